import BlockingWork
internal import CSMBClient
public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A program that writes one part of a parallel upload: `executable` with `arguments` runs
/// ``SMBParallelUpload/writeOrderedPart()``. siteloc's is itself with `smb-part`.
public struct SMBHelper: Sendable {
    public var executable: URL
    public var arguments: [String]
    /// How many parts travel at once.
    public var streams: Int

    public init(executable: URL, arguments: [String], streams: Int = 4) {
        self.executable = executable
        self.arguments = arguments
        self.streams = streams
    }
}

/// A file copied into a share as several parts at once, each written at its own offset into the same temporary
/// file by a helper process over its own connection, then renamed whole.
///
/// libsmbclient waits for each write's answer (`cli_writeall`), so one connection leaves a link idle between
/// writes; `smbclient put` keeps many writes in flight. libsmbclient is not thread-safe even with one context per
/// thread, so the parts go to separate processes. The password reaches each helper through its standard input,
/// never its command line or environment; a helper dies with the process that started it.
public enum SMBParallelUpload {
    /// What a helper is told on its standard input: one JSON object.
    struct Order: Codable {
        var host: String
        var port: Int
        var share: String
        var workgroup: String
        var user: String
        var password: [UInt8]
        var file: String
        var localOffset: UInt64
        var count: Int64
        var name: String
        var remoteOffset: Int64
        var blockSize: Int
        var timeoutSeconds: Int
    }

    /// Parts smaller than this are not worth a process of their own.
    public static let minimumPart: Int64 = 16 << 20

    /// Copies `prefix` and then `file` from `offset` on into `share` as `temporaryName`, in up to `helper.streams`
    /// parts at once, and renames it to `name` once every part is written. `progress` gets the bytes written so
    /// far. A failed or cancelled part stops the others; the temporary file stays for the next delivery, which
    /// creates it afresh.
    public static func upload(
        _ file: URL,
        from offset: UInt64,
        after prefix: Data,
        to share: SMBShare,
        credentials: SMBCredentials,
        as name: String,
        temporaryName: String,
        helper: SMBHelper,
        blockSize: Int = 8 << 20,
        timeout: Duration = .seconds(10),
        progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        let size = ((attributes[.size] as? NSNumber)?.int64Value ?? 0) - Int64(offset)
        try await share.create(temporaryName, containing: prefix)
        let streams = Int(max(1, min(Int64(helper.streams), size / minimumPart)))
        let partSize = (size + Int64(streams) - 1) / Int64(streams)
        let written = PartsWritten(streams)
        let base = Int64(prefix.count)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for part in 0..<streams {
                let start = Int64(part) * partSize
                let count = min(partSize, size - start)
                guard count > 0 else { continue }
                let order = Order(
                    host: share.host,
                    port: share.port,
                    share: share.share,
                    workgroup: credentials.workgroup,
                    user: credentials.user,
                    password: credentials.password,
                    file: file.path,
                    localOffset: offset + UInt64(start),
                    count: count,
                    name: temporaryName,
                    remoteOffset: base + start,
                    blockSize: blockSize,
                    timeoutSeconds: Int(timeout.components.seconds)
                )
                group.addTask {
                    try await run(helper, order) { sent in
                        progress(base + written.set(part, sent))
                    }
                }
            }
            // The first failure cancels the others, whose helpers are killed.
            try await group.waitForAll()
        }
        try await share.rename(temporaryName, to: name)
    }

    /// Runs one helper to its end, passing on the bytes it reports; killed when the task is cancelled.
    private static func run(
        _ helper: SMBHelper,
        _ order: Order,
        progress: @escaping @Sendable (Int64) -> Void
    ) async throws {
        let process = Process()
        process.executableURL = helper.executable
        process.arguments = helper.arguments
        // The helper needs no inherited secret; SITELOC_* passwords were taken out of the environment at start.
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        let request = try JSONEncoder().encode(order) + Data("\n".utf8)
        try await withBlockingWork { try process.run() }
        let pid = process.processIdentifier
        try await withTaskCancellationHandler {
            try await withBlockingWork {
                input.fileHandleForWriting.write(request)
                try input.fileHandleForWriting.close()
                // One line per block: the part's bytes written so far.
                var pending = Data()
                while let chunk = try output.fileHandleForReading.read(upToCount: 4096), !chunk.isEmpty {
                    pending += chunk
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = pending[pending.startIndex..<newline]
                        pending = Data(pending[(newline + 1)...])
                        if let sent = Int64(String(decoding: line, as: UTF8.self)) { progress(sent) }
                    }
                }
                let said = errors.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                guard process.terminationReason == .exit, process.terminationStatus == 0 else {
                    let reason = String(decoding: said.suffix(1000), as: UTF8.self)
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    throw SMBError(
                        operation: "write part",
                        target: "smb://\(order.host):\(order.port)/\(order.share)/\(order.name)",
                        code: EIO,
                        reason: reason.isEmpty ? "the helper ended with status \(process.terminationStatus)" : reason
                    )
                }
            }
        } onCancel: {
            kill(pid, SIGKILL)
        }
        try Task.checkCancellation()
    }

    /// The helper's side: reads one order from standard input, writes that part, printing the bytes written after
    /// each block, and returns; throws what went wrong. It dies with its parent (PR_SET_PDEATHSIG), so a killed
    /// site server leaves no writer behind.
    public static func writeOrderedPart() async throws {
        _ = csmb_die_with_parent()
        if getppid() == 1 { throw SMBError(operation: "start", target: "helper", code: ESRCH, reason: "no parent") }
        let input = FileHandle.standardInput.readData(ofLength: 64 << 10)
        let order = try JSONDecoder().decode(Order.self, from: input)
        guard order.count >= 0, order.remoteOffset >= 0, (1...(64 << 20)).contains(order.blockSize),
            (1...600).contains(order.timeoutSeconds)
        else {
            throw SMBError(
                operation: "read order",
                target: "standard input",
                code: EINVAL,
                reason: "expected a count and offsets of 0 or more, a block of 1 byte to 64 MiB, a timeout of 1-600 s"
            )
        }
        let share = try await SMBShare(
            host: order.host,
            port: order.port,
            share: order.share,
            credentials: SMBCredentials(workgroup: order.workgroup, user: order.user, password: order.password),
            timeout: .seconds(Int64(order.timeoutSeconds))
        )
        try await share.writePart(
            URL(fileURLWithPath: order.file),
            from: order.localOffset,
            count: order.count,
            into: order.name,
            at: order.remoteOffset,
            blockSize: order.blockSize
        ) { sent in
            FileHandle.standardOutput.write(Data("\(sent)\n".utf8))
        }
    }
}

/// The bytes each part has written, shared by the tasks that follow the helpers.
private final class PartsWritten: Sendable {
    private let parts: Mutex<[Int64]>

    init(_ count: Int) { parts = Mutex([Int64](repeating: 0, count: count)) }

    /// Records one part's bytes and returns the sum of all parts.
    func set(_ part: Int, _ sent: Int64) -> Int64 {
        parts.withLock { parts in
            parts[part] = sent
            return parts.reduce(0, +)
        }
    }
}
