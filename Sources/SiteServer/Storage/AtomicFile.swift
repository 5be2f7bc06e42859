import Foundation
public import SiteModel

#if canImport(Glibc)
import Glibc
#endif

/// A site server problem a person can act on: what went wrong and what to do. Most are about what it was given (a
/// site, a folder, a package, a parcel); a file it cannot write is ``FailureKind/internalError``.
public struct SiteServerError: KindedError, Sendable {
    public let description: String
    public let kind: FailureKind
    public init(_ description: String, kind: FailureKind = .badInput) {
        self.description = description
        self.kind = kind
    }
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

    /// Writes `contents` to `file`, replacing it atomically. `durable` flushes it to disk before the rename, so it
    /// also survives a power cut; records that only report progress skip that (a killed process loses nothing
    /// either way: the kernel keeps what was written).
    static func write(_ file: URL, contents: Data, mode: mode_t = 0o644, durable: Bool = true) throws(SiteServerError) {
        let temporary = temporary(for: file)
        try writeNew(temporary, contents: contents, mode: mode, durable: durable)
        guard rename(temporary.path, file.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw SiteServerError("cannot write \(file.path): \(reason)", kind: .internalError)
        }
    }

    /// Writes `contents` to `file`, which must not exist yet: the first writer wins, even across processes.
    /// Returns false when the file was already there.
    @discardableResult
    static func create(
        _ file: URL,
        contents: Data,
        mode: mode_t = 0o644,
        durable: Bool = true
    ) throws(SiteServerError) -> Bool {
        let temporary = temporary(for: file)
        try writeNew(temporary, contents: contents, mode: mode, durable: durable)
        defer { unlink(temporary.path) }
        // link() refuses an existing name, so creation is exclusive and still atomic.
        if link(temporary.path, file.path) == 0 { return true }
        if errno == EEXIST { return false }
        throw SiteServerError("cannot create \(file.path): \(String(cString: strerror(errno)))", kind: .internalError)
    }

    /// Creates `file` with `contents` unless it exists; returns false when it did. The name appears before the
    /// contents are written, so use it for records whose existence is what counts.
    static func createRecord(_ file: URL, contents: Data) throws(SiteServerError) -> Bool {
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            if errno == EEXIST { return false }
            throw SiteServerError(
                "cannot create \(file.path): \(String(cString: strerror(errno)))",
                kind: .internalError
            )
        }
        defer { close(descriptor) }
        _ = contents.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        return true
    }

    private static func writeNew(_ file: URL, contents: Data, mode: mode_t, durable: Bool) throws(SiteServerError) {
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw SiteServerError(
                "cannot write \(file.path): \(String(cString: strerror(errno)))",
                kind: .internalError
            )
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
        guard written, !durable || fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(file.path)
            throw SiteServerError("cannot write \(file.path): \(reason)", kind: .internalError)
        }
    }
}

/// Opening files that may have been put there by someone else (an inbox, a parcel, a site's own folders): only a
/// regular file is opened, a symbolic link is never followed, and a FIFO or device cannot make the open wait.
enum RegularFile {
    static func openForReading(_ url: URL) throws(SiteServerError) -> FileHandle {
        let descriptor = open(url.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason =
                errno == ELOOP ? "is a symbolic link, which is never followed" : String(cString: strerror(errno))
            throw SiteServerError("cannot read \(url.lastPathComponent): \(reason)")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw SiteServerError("cannot read \(url.lastPathComponent): not a regular file")
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// The whole contents of a small regular file (at most `limit` bytes), or nil when it is missing, not a regular
    /// file, a link, or larger.
    static func contents(of url: URL, limit: Int = 1 << 20) -> Data? {
        try? read(url, limit: limit)
    }

    /// The whole contents of a small regular file, or why it cannot be had (missing, a link, not regular, larger than
    /// `limit`, or the read failed — out of descriptors, say), for callers that report it.
    static func read(_ url: URL, limit: Int) throws(SiteServerError) -> Data {
        let handle = try openForReading(url)
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw SiteServerError("cannot read \(url.lastPathComponent): \(error)")
        }
        guard data.count <= limit else {
            throw SiteServerError("cannot read \(url.lastPathComponent): larger than \(limit) bytes")
        }
        return data
    }

    /// Whether `url` is a directory itself, not a link to one.
    static func isRealDirectory(_ url: URL) -> Bool {
        var status = stat()
        return lstat(url.path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// Creates a folder (and its parents) unless it exists; refuses a folder that is a symbolic link or not a folder.
    static func createDirectory(_ url: URL) throws(SiteServerError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw SiteServerError("cannot create \(url.path): \(error.localizedDescription)", kind: .internalError)
        }
        guard isRealDirectory(url) else {
            throw SiteServerError(
                "\(url.path) is a symbolic link or not a folder; a site server follows no link it did not make:"
                    + " remove it and start again",
                kind: .internalError
            )
        }
    }

    /// Creates `url` for writing; it must not exist (O_EXCL never follows a link either).
    static func createForWriting(_ url: URL, mode: mode_t = 0o644) throws(SiteServerError) -> FileHandle {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw SiteServerError("cannot write \(url.path): \(String(cString: strerror(errno)))", kind: .internalError)
        }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }
}
