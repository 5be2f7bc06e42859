#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with SIGPIPE blocked on this thread: a write into the pipe of a program that has already ended fails
/// with EPIPE instead of ending the whole process. A SIGPIPE raised meanwhile is taken before the mask is
/// restored, so it never reaches the thread's next job.
public func withoutBrokenPipeSignal<T, Failure: Error>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
    var brokenPipe = sigset_t()
    sigemptyset(&brokenPipe)
    sigaddset(&brokenPipe, SIGPIPE)
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &brokenPipe, &previous)
    defer {
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1 {
            var now = timespec()
            _ = sigtimedwait(&brokenPipe, nil, &now)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
    return try body()
}

/// Writes all of `bytes` to `descriptor` with SIGPIPE blocked; false when the reader went away (or the write
/// failed otherwise) before all of it was taken.
public func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
    withoutBrokenPipeSignal { () -> Bool in
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.write(descriptor, $0.baseAddress! + offset, bytes.count - offset)
            }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }
}
