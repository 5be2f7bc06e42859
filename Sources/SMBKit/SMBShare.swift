internal import CSMBClient
public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Who to be on an SMB server. The password never prints.
public struct SMBCredentials: Sendable, CustomStringConvertible {
    public var workgroup: String
    public var user: String
    let password: [UInt8]

    public init(workgroup: String = "WORKGROUP", user: String, password: [UInt8]) {
        self.workgroup = workgroup
        self.user = user
        self.password = password
    }

    public var description: String { "\(workgroup)\\\(user)" }
}

/// An SMB operation that failed: which, on what (never with a password), and the system's reason.
public struct SMBError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var target: String
    public var code: Int32
    public var reason: String

    public var description: String { "SMB \(operation) \(target) failed: \(reason)" }

    /// Sharing violations right after a rename and dropped connections are worth a retry.
    public var isBusy: Bool { code == EBUSY }
}

/// One share on one SMB server (`smb://host:port/share`), written into with libsmbclient.
///
/// libsmbclient 4.17 is not thread-safe even with one context per thread, so every call, including creating and
/// freeing contexts, runs on one process-wide serial queue (`SMBExecutor`). Nothing else in siteloc calls it.
public final class SMBShare: Sendable {
    public let host: String
    public let port: Int
    public let share: String
    private let context: SMBExecutor.Context

    public init(
        host: String,
        port: Int,
        share: String,
        credentials: SMBCredentials,
        timeout: Duration = .seconds(10)
    )
        async throws(SMBError)
    {
        self.host = host
        self.port = port
        self.share = share
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        context = try await SMBExecutor.shared.makeContext(credentials: credentials, timeoutMilliseconds: milliseconds)
    }

    deinit {
        SMBExecutor.shared.free(context)
    }

    /// `smb://host:port/share`, the form libsmbclient and Windows tools accept.
    public var url: String { "smb://\(host):\(port)/\(share)" }

    private func url(of name: String) -> String { url + "/" + name }

    /// Copies `prefix` and then `file` from `offset` on into the share as `temporaryName` and renames it to `name`
    /// once it is whole, so a reader of the share never sees a partial `name`. `name` must not exist yet: libsmbclient replaces an existing name by
    /// unlink and rename, which is not atomic. `afterBlock` runs between blocks off the SMB queue (rate limits
    /// pause there) and receives the bytes sent so far and how long the last block took.
    public func upload(
        _ file: URL,
        from offset: UInt64 = 0,
        after prefix: Data = Data(),
        as name: String,
        temporaryName: String,
        blockSize: Int = 1 << 20,
        afterBlock: @Sendable (_ sent: Int64, _ blockTook: Duration) async throws -> Void = { _, _ in }
    ) async throws {
        let input = try FileHandle(forReadingFrom: file)
        defer { try? input.close() }
        try input.seek(toOffset: offset)
        var pending = prefix
        let remote = try await SMBExecutor.shared.open(context, url: url(of: temporaryName))
        var sent: Int64 = 0
        do {
            while true {
                let started = ContinuousClock.now
                var block = pending
                pending = Data()
                if block.count < blockSize { block += try input.read(upToCount: blockSize - block.count) ?? Data() }
                if block.isEmpty { break }
                try await SMBExecutor.shared.write(context, remote, block, target: url(of: temporaryName))
                sent += Int64(block.count)
                try await afterBlock(sent, ContinuousClock.now - started)
            }
            try await SMBExecutor.shared.close(context, remote, target: url(of: temporaryName))
        } catch {
            try? await SMBExecutor.shared.close(context, remote, target: url(of: temporaryName))
            try? await SMBExecutor.shared.unlink(context, url: url(of: temporaryName))
            throw error
        }
        try await SMBExecutor.shared.rename(context, from: url(of: temporaryName), to: url(of: name))
    }

    /// Renames `name` to `newName` in the share; `newName` must not exist (libsmbclient replaces by unlink and
    /// rename, which is not atomic).
    public func rename(_ name: String, to newName: String) async throws(SMBError) {
        try await SMBExecutor.shared.rename(context, from: url(of: name), to: url(of: newName))
    }

    /// Connects and authenticates now (libsmbclient otherwise does it on the first operation) and proves the
    /// share usable: the later operations of this share wait no round trips for it.
    public func connect() async throws(SMBError) {
        try await SMBExecutor.shared.connect(context, url: url)
    }

    public func remove(_ name: String) async throws(SMBError) {
        try await SMBExecutor.shared.unlink(context, url: url(of: name))
    }
}
