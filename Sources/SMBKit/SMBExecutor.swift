internal import CSMBClient
internal import Dispatch
internal import Foundation
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// The one place that calls libsmbclient. Every call runs on one serial queue for the whole process, because
/// libsmbclient 4.17 crashes when two threads use it at once, even through separate contexts.
/// Waiting callers are suspended, not blocked, so Swift's cooperative threads stay free.
final class SMBExecutor: Sendable {
    static let shared = SMBExecutor()

    private let queue = DispatchQueue(label: "siteloc.smbclient")

    /// A libsmbclient context and the credentials its callback reads.
    ///
    /// Sendable because the pointers inside are dereferenced only on `queue`, one call at a time; the values
    /// themselves never change after creation.
    final class Context: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<SMBCCTX>
        let credentials: Unmanaged<CredentialBox>

        init(pointer: UnsafeMutablePointer<SMBCCTX>, credentials: Unmanaged<CredentialBox>) {
            self.pointer = pointer
            self.credentials = credentials
        }
    }

    /// An open remote file. Sendable for the same reason as `Context`: only touched on `queue`.
    final class RemoteFile: @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
    }

    final class CredentialBox {
        let workgroup: [CChar]
        let user: [CChar]
        let password: [CChar]

        init(_ credentials: SMBCredentials) {
            workgroup = Array(credentials.workgroup.utf8CString)
            user = Array(credentials.user.utf8CString)
            password = credentials.password.map { CChar(bitPattern: $0) } + [0]
        }
    }

    private func run<T: Sendable>(
        _ operation: String,
        _ target: String,
        _ body: @escaping @Sendable () -> T?
    ) async throws(SMBError) -> T {
        let result: Result<T, SMBError> = await withCheckedContinuation { continuation in
            queue.async {
                errno = 0
                // A share whose smbd went away mid-write must fail the call with EPIPE, not end the process.
                if let value = withoutBrokenPipeSignal(body) {
                    continuation.resume(returning: .success(value))
                } else {
                    let code = errno
                    let reason = code == 0 ? "unknown error" : String(cString: strerror(code))
                    continuation.resume(
                        returning: .failure(SMBError(operation: operation, target: target, code: code, reason: reason))
                    )
                }
            }
        }
        return try result.get()
    }

    func makeContext(credentials: SMBCredentials, timeoutMilliseconds: Int32) async throws(SMBError) -> Context {
        if let error = csmb_library_loaded().pointee.error {
            throw SMBError(
                operation: "init",
                target: "libsmbclient",
                code: ELIBACC,
                reason: "cannot load libsmbclient.so.0 (Debian's libsmbclient package): \(String(cString: error))"
            )
        }
        let box = Unmanaged.passRetained(CredentialBox(credentials))
        let boxAddress = UInt(bitPattern: box.toOpaque())
        let pointer = try await run("init", "context") { () -> UInt? in
            guard
                let context = csmb_context(
                    timeoutMilliseconds,
                    UnsafeMutableRawPointer(bitPattern: boxAddress),
                    authenticate
                )
            else { return nil }
            return UInt(bitPattern: context)
        }
        return Context(pointer: UnsafeMutablePointer(bitPattern: pointer)!, credentials: box)
    }

    func free(_ context: Context) {
        queue.async {
            // Freeing a context says goodbye on its connection, which may already be gone.
            _ = withoutBrokenPipeSignal { csmb_library_loaded().pointee.free_context(context.pointer, 1) }
            context.credentials.release()
        }
    }

    /// Opens `url` for writing, created empty.
    func open(_ context: Context, url: String) async throws(SMBError) -> RemoteFile {
        try await run("open", url) {
            let flags = O_WRONLY | O_CREAT | O_TRUNC
            guard let open = csmb_library_loaded().pointee.get_open(context.pointer),
                let file = open(context.pointer, url, flags, 0o644)
            else { return nil }
            return RemoteFile(file)
        }
    }

    func write(_ context: Context, _ file: RemoteFile, _ data: Data, target: String) async throws(SMBError) {
        _ = try await run("write", target) { () -> Bool? in
            guard let write = csmb_library_loaded().pointee.get_write(context.pointer) else { return nil }
            return data.withUnsafeBytes { buffer -> Bool? in
                var offset = 0
                while offset < buffer.count {
                    let written = write(
                        context.pointer,
                        file.pointer,
                        buffer.baseAddress! + offset,
                        buffer.count - offset
                    )
                    if written <= 0 { return nil }
                    offset += written
                }
                return true
            }
        }
    }

    func close(_ context: Context, _ file: RemoteFile, target: String) async throws(SMBError) {
        _ = try await run("close", target) { () -> Bool? in
            guard let close = csmb_library_loaded().pointee.get_close(context.pointer),
                close(context.pointer, file.pointer) == 0
            else { return nil }
            return true
        }
    }

    func rename(_ context: Context, from: String, to: String) async throws(SMBError) {
        _ = try await run("rename", "\(from) to \(to)") { () -> Bool? in
            guard let rename = csmb_library_loaded().pointee.get_rename(context.pointer),
                rename(context.pointer, from, context.pointer, to) == 0
            else { return nil }
            return true
        }
    }

    func unlink(_ context: Context, url: String) async throws(SMBError) {
        _ = try await run("unlink", url) { () -> Bool? in
            guard let unlink = csmb_library_loaded().pointee.get_unlink(context.pointer),
                unlink(context.pointer, url) == 0
            else { return nil }
            return true
        }
    }

    /// Reads the attributes of `url`, a share's root: that makes the connection (negotiate, session, tree) and
    /// proves it usable, without listing anything.
    func connect(_ context: Context, url: String) async throws(SMBError) {
        _ = try await run("connect", url) { () -> Bool? in
            guard let stat = csmb_library_loaded().pointee.get_stat(context.pointer) else { return nil }
            var status = Glibc.stat()
            return stat(context.pointer, url, &status) == 0 ? true : nil
        }
    }
}

/// libsmbclient asks for credentials through a C callback; the context's user data holds them.
private func authenticate(
    _ context: UnsafeMutablePointer<SMBCCTX>?,
    _ server: UnsafePointer<CChar>?,
    _ share: UnsafePointer<CChar>?,
    _ workgroup: UnsafeMutablePointer<CChar>?,
    _ workgroupLength: Int32,
    _ user: UnsafeMutablePointer<CChar>?,
    _ userLength: Int32,
    _ password: UnsafeMutablePointer<CChar>?,
    _ passwordLength: Int32
) {
    guard let context, let data = csmb_library_loaded().pointee.get_user_data(context) else { return }
    let box = Unmanaged<SMBExecutor.CredentialBox>.fromOpaque(data).takeUnretainedValue()
    func fill(_ destination: UnsafeMutablePointer<CChar>?, _ length: Int32, _ value: [CChar]) {
        guard let destination, length > 0 else { return }
        let count = min(value.count - 1, Int(length) - 1)
        for index in 0..<count { destination[index] = value[index] }
        destination[count] = 0
    }
    fill(workgroup, workgroupLength, box.workgroup)
    fill(user, userLength, box.user)
    fill(password, passwordLength, box.password)
}
