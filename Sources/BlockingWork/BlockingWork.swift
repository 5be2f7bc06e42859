import Foundation
import Synchronization

/// Where blocking work runs: file I/O on folders others write into, child processes waited for, anything that may
/// sit in a system call. Swift's cooperative threads are as many as the cores (two here), so one blocked call there
/// stalls every task of the process. Dispatch's concurrent queues are no way out on Linux: they share a pool as wide
/// as the cores too. So this executor keeps threads of its own: one more starts whenever a job arrives and none is
/// idle (up to ``maximumThreads``), and a thread idle for a few seconds ends.
public final class BlockingExecutor: TaskExecutor {
    /// The one executor for the process.
    public static let shared = BlockingExecutor()

    /// Enough for every site server of a lab with `site run --all` to block at once and still leave room.
    public static let maximumThreads = 256
    static let idleLifetime: TimeInterval = 5

    private struct State {
        var jobs: [UnownedJob] = []
        var threads = 0
        var idle = 0
    }

    private let state = Mutex(State())
    private let wakeUp = NSCondition()

    private init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let startThread = state.withLock { state -> Bool in
            state.jobs.append(job)
            guard state.idle == 0, state.threads < Self.maximumThreads else { return false }
            state.threads += 1
            return true
        }
        if startThread {
            let thread = Thread { [self] in work() }
            thread.name = "siteloc-blocking"
            thread.start()
        } else {
            wakeUp.withLock { wakeUp.signal() }
        }
    }

    private func work() {
        while let job = next() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The next job, waiting while there is none; nil when this thread has been idle long enough to end.
    private func next() -> UnownedJob? {
        while true {
            let taken = state.withLock { state -> UnownedJob? in
                state.jobs.isEmpty ? nil : state.jobs.removeFirst()
            }
            if let taken { return taken }
            let wokenUp = wakeUp.withLock { () -> Bool in
                let waiting = state.withLock { state -> Bool in
                    guard state.jobs.isEmpty else { return false }
                    state.idle += 1
                    return true
                }
                guard waiting else { return true }
                let signalled = wakeUp.wait(until: Date().addingTimeInterval(Self.idleLifetime))
                state.withLock { $0.idle -= 1 }
                return signalled
            }
            if !wokenUp {
                let ends = state.withLock { state -> Bool in
                    guard state.jobs.isEmpty else { return false }
                    state.threads -= 1
                    return true
                }
                if ends { return nil }
            }
        }
    }
}

/// Runs `body` on a thread of the ``BlockingExecutor``, and everything `body` awaits too, unless it asks for another
/// executor; the caller's task waits without holding a cooperative thread.
public func withBlockingWork<T, Failure: Error>(
    _ body: () async throws(Failure) -> T
) async throws(Failure) -> T {
    try await withTaskExecutorPreference(BlockingExecutor.shared, operation: body)
}
