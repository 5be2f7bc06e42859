import BlockingWork
import Foundation
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
        // More blocked jobs than there are cores, then one more: it must run at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { () async throws -> Void in await withBlockingWork { _ = usleep(1_500_000) } }
            }
            try await Task.sleep(for: .milliseconds(100))
            let started = ContinuousClock.now
            await withBlockingWork { _ = usleep(1_000) }
            #expect(ContinuousClock.now - started < .milliseconds(900))
            try await group.waitForAll()
        }
    }
}
