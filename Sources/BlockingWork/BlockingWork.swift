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

    /// The queue and the thread counts. Read and written only while `condition` is locked, which is what makes
    /// the unchecked access safe.
    private nonisolated(unsafe) var jobs: [UnownedJob] = []
    private nonisolated(unsafe) var threads = 0
    /// Threads waiting for a job.
    private nonisolated(unsafe) var idle = 0
    private let condition = NSCondition()

    private init() {}

    private static let marker = "siteloc.blocking-executor"

    /// Whether the calling code runs on one of this executor's threads.
    public static var isCurrentThread: Bool { Thread.current.threadDictionary[marker] != nil }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        // A new thread whenever the jobs waiting outnumber the threads waiting for them. Comparing with the count
        // of waiting threads (not "is any idle") matters: a thread just woken for one job still counts as idle
        // until it runs, and a second job relying on it would wait behind the first, however long that blocks.
        let start = jobs.count > idle && threads < Self.maximumThreads
        if start {
            threads += 1
        } else {
            condition.signal()
        }
        condition.unlock()
        if start {
            let thread = Thread { [self] in
                Thread.current.threadDictionary[Self.marker] = true
                // Named from the thread itself too: on Linux a name set before start stays on the object only.
                Thread.current.name = "siteloc-blocking"
                work()
            }
            thread.name = "siteloc-blocking"
            thread.start()
        }
    }

    private func work() {
        while let job = next() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The next job, waiting while there is none; nil when this thread has been idle long enough to end.
    private func next() -> UnownedJob? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty {
            idle += 1
            let signalled = condition.wait(until: Date().addingTimeInterval(Self.idleLifetime))
            idle -= 1
            if !signalled, jobs.isEmpty {
                threads -= 1
                return nil
            }
        }
        return jobs.removeFirst()
    }
}

/// Runs `body` on a thread of the ``BlockingExecutor``, and everything `body` awaits too, unless it asks for another
/// executor; the caller's task waits without holding a cooperative thread.
///
/// `body` is `@concurrent`: with nonisolated(nonsending) the default for async closures, a plain closure would run
/// on its caller's thread, preference or not (seen here: synchronous work in it ran on a cooperative thread).
/// A `@concurrent` closure runs on the generic executor, which the task's executor preference makes this one.
public func withBlockingWork<T, Failure: Error>(
    _ body: @concurrent () async throws(Failure) -> T
) async throws(Failure) -> T {
    try await withTaskExecutorPreference(BlockingExecutor.shared, operation: body)
}
