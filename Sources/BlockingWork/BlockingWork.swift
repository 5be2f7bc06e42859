import Dispatch

/// Where blocking work runs: file I/O on folders others write into, child processes waited for, anything that may
/// sit in a system call. Swift's cooperative threads are as many as the cores (two here), so one blocked call there
/// stalls every task of the process; these threads are Dispatch's, which grow when some block.
public final class BlockingExecutor: TaskExecutor {
    /// The one executor for the process.
    public static let shared = BlockingExecutor()

    private let queue = DispatchQueue(label: "siteloc.blocking", attributes: .concurrent)

    private init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Runs `body` on a thread of the ``BlockingExecutor``, and everything `body` awaits too, unless it asks for another
/// executor; the caller's task waits without holding a cooperative thread.
public func withBlockingWork<T, Failure: Error>(
    _ body: () async throws(Failure) -> T
) async throws(Failure) -> T {
    try await withTaskExecutorPreference(BlockingExecutor.shared, operation: body)
}
