import BlockingWork
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Work given to `withBlockingWork` runs on the blocking executor's own threads, never on Swift's cooperative ones,
/// and a job never waits behind another that blocks.
@Suite struct BlockingWorkTests {
    @Test func blockingWorkRunsOnItsOwnThreads() async {
        #expect(!BlockingExecutor.isCurrentThread)
        #expect(await withBlockingWork { BlockingExecutor.isCurrentThread })
        #expect(
            await withBlockingWork { () async -> Bool in
                await Task.yield()
                return BlockingExecutor.isCurrentThread
            }
        )
    }

    @Test func aJobNeverWaitsBehindOneThatBlocks() async throws {
        // More jobs than there are cores block until one more job has run: if that job waited behind them, they
        // would wait out their bound instead of being released by it. Order decides, not a clock.
        let release = DispatchSemaphore(value: 0)
        let blocked = 4
        let started = StartedJobs()
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<blocked {
                group.addTask {
                    await withBlockingWork {
                        started.count.withLock { $0 += 1 }
                        return release.wait(timeout: .now() + 60) == .success
                    }
                }
            }
            let bound = ContinuousClock.now + .seconds(60)
            while started.count.withLock({ $0 }) < blocked, ContinuousClock.now < bound {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(started.count.withLock { $0 } == blocked)
            await withBlockingWork { for _ in 0..<blocked { release.signal() } }
            var releasedByTheLastJob = 0
            for try await released in group where released { releasedByTheLastJob += 1 }
            #expect(releasedByTheLastJob == blocked)
        }
    }
}

private final class StartedJobs: Sendable {
    let count = Mutex(0)
}
