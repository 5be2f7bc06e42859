public import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed: which, on what, and the `errno` it left, typed (swift-system's `Errno`). It names
/// paths and programs, never the contents of a file or a secret.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done, in words: "write", "rename into", "start".
    public let action: String
    /// The path or program it was done to.
    public let subject: String
    public let errno: Errno

    public init(_ action: String, _ subject: String, errno: Errno) {
        self.action = action
        self.subject = subject
        self.errno = errno
    }

    /// The error the last failed call left in the thread's `errno`.
    static func last(_ action: String, _ subject: String) -> SystemCallError {
        SystemCallError(action, subject, errno: Errno(rawValue: Glibc.errno))
    }

    public var description: String { "cannot \(action) \(subject): \(errno)" }
}
