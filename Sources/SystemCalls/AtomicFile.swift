public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files that appear whole or not at all: written under a temporary name beside the target, flushed, then renamed.
/// A reader that only looks at final names never sees half a file, whenever the writer is killed. The one
/// implementation of it: site servers, the lab, the directory server and the client all write through here.
public enum AtomicFile {
    /// The temporary name for `file`: hidden, unique, and not matched by any reader's pattern.
    public static func temporary(for file: URL) -> URL {
        file.deletingLastPathComponent().appendingPathComponent(
            ".\(file.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp"
        )
    }

    /// Writes `contents` to `file`, replacing it atomically. `durable` flushes it to disk before the rename, so it
    /// also survives a power cut; records that only report progress skip that (a killed process loses nothing
    /// either way: the kernel keeps what was written). The temporary file is created exclusively, so a link
    /// planted under its name is never written through.
    public static func write(
        _ file: URL,
        contents: Data,
        mode: mode_t = 0o644,
        durable: Bool = true
    ) throws(SystemCallError) {
        let temporary = temporary(for: file)
        try writeNew(temporary, contents: contents, mode: mode, durable: durable)
        guard rename(temporary.path, file.path) == 0 else {
            let error = SystemCallError.last("write", file.path)
            unlink(temporary.path)
            throw error
        }
    }

    /// Writes `contents` to `file`, which must not exist yet: the first writer wins, even across processes.
    /// Returns false when the file was already there.
    @discardableResult
    public static func create(
        _ file: URL,
        contents: Data,
        mode: mode_t = 0o644,
        durable: Bool = true
    ) throws(SystemCallError) -> Bool {
        let temporary = temporary(for: file)
        try writeNew(temporary, contents: contents, mode: mode, durable: durable)
        defer { unlink(temporary.path) }
        // link() refuses an existing name, so creation is exclusive and still atomic.
        if link(temporary.path, file.path) == 0 { return true }
        if errno == EEXIST { return false }
        throw SystemCallError.last("create", file.path)
    }

    /// Creates `file` with `contents` unless it exists; returns false when it did. The name appears before the
    /// contents are written, so use it for records whose existence is what counts.
    public static func createRecord(_ file: URL, contents: Data) throws(SystemCallError) -> Bool {
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            if errno == EEXIST { return false }
            throw SystemCallError.last("create", file.path)
        }
        defer { close(descriptor) }
        _ = contents.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        return true
    }

    private static func writeNew(
        _ file: URL,
        contents: Data,
        mode: mode_t,
        durable: Bool
    ) throws(SystemCallError) {
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw SystemCallError.last("write", file.path) }
        defer { close(descriptor) }
        // The mode asked for, whatever the umask.
        fchmod(descriptor, mode)
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
            let error = SystemCallError.last("write", file.path)
            unlink(file.path)
            throw error
        }
    }
}
