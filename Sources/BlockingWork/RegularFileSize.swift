#if canImport(Glibc)
import Glibc
#endif

/// The size of the regular file open on `descriptor`, or nil when it is not a regular file (a directory, a FIFO,
/// a device) or cannot be examined.
///
/// Here, not in the modules that serve and download content: those import NIO, whose C module also declares
/// `struct stat`, and which of the two declarations a file sees depends on the order a build happens to load the
/// modules in — a clean build can then refuse `st_mode` as "not imported". This module imports Glibc alone.
public func regularFileSize(_ descriptor: Int32) -> Int64? {
    var status = stat()
    guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
    return Int64(status.st_size)
}
