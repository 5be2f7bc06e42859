import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A site server problem a person can act on: what went wrong and what to do.
public struct SiteServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Files that appear whole or not at all: written under a temporary name beside the target, flushed, then renamed.
/// A reader that only looks at final names never sees half a file, whenever the writer is killed.
enum AtomicFile {
    /// The temporary name for `file`: hidden, unique, and not matched by any reader's pattern.
    static func temporary(for file: URL) -> URL {
        file.deletingLastPathComponent().appendingPathComponent(
            ".\(file.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp"
        )
    }

    /// Writes `contents` to `file`, replacing it atomically.
    static func write(_ file: URL, contents: Data, mode: mode_t = 0o644) throws(SiteServerError) {
        let temporary = temporary(for: file)
        try writeNew(temporary, contents: contents, mode: mode)
        guard rename(temporary.path, file.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw SiteServerError("cannot write \(file.path): \(reason)")
        }
    }

    /// Writes `contents` to `file`, which must not exist yet: the first writer wins, even across processes.
    /// Returns false when the file was already there.
    @discardableResult
    static func create(_ file: URL, contents: Data, mode: mode_t = 0o644) throws(SiteServerError) -> Bool {
        let temporary = temporary(for: file)
        try writeNew(temporary, contents: contents, mode: mode)
        defer { unlink(temporary.path) }
        // link() refuses an existing name, so creation is exclusive and still atomic.
        if link(temporary.path, file.path) == 0 { return true }
        if errno == EEXIST { return false }
        throw SiteServerError("cannot create \(file.path): \(String(cString: strerror(errno)))")
    }

    private static func writeNew(_ file: URL, contents: Data, mode: mode_t) throws(SiteServerError) {
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw SiteServerError("cannot write \(file.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let written = contents.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let count = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
        guard written, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(file.path)
            throw SiteServerError("cannot write \(file.path): \(reason)")
        }
    }
}
