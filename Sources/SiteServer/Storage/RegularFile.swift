import Foundation
import SiteModel

#if canImport(Glibc)
import Glibc
#endif

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
