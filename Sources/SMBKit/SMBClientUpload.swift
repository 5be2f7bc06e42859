import BlockingWork
internal import CSMBClient
public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a large upload reaches Samba's `smbclient`: `executable` with `arguments` runs
/// ``SMBClientUpload/becomeSMBClient()``, which turns itself into `smbclient` (siteloc's is itself with `smb-put`).
public struct SMBHelper: Sendable {
    public var executable: URL
    public var arguments: [String]
    /// Debian's smbclient package.
    public var smbclient: String
    public static let defaultSMBClient = "/usr/bin/smbclient"

    public init(executable: URL, arguments: [String], smbclient: String = defaultSMBClient) {
        self.executable = executable
        self.arguments = arguments
        self.smbclient = smbclient
    }
}

/// A file copied into a share by Samba's `smbclient put`, which keeps up to 256 writes in flight on one
/// connection (`cli_push`), then renamed whole over libsmbclient.
///
/// libsmbclient waits for each write's answer (`cli_writeall`) and has no pipelined write, so over a link with a
/// round trip it leaves the link idle between writes; several libsmbclient connections at once (helper processes
/// writing parts at offsets, this sender's first design) reached 0.80 of `smbclient put` over an emulated WAN
/// link, since every connection still waits once per write. So the bytes travel through `smbclient` itself. Its
/// password goes through a pipe it reads as its authentication file (`-A /dev/fd/3`), never its command line or
/// environment; it reads the job from its standard input (the file itself, or a pipe when the job goes out with
/// a new header); it dies with the process that started it (PR_SET_PDEATHSIG survives exec); it runs one command,
/// so its exit status is that command's. A copy cut short leaves only the temporary name, which the next delivery
/// writes again.
public enum SMBClientUpload {
    /// What the helper is told on its standard input: one JSON line. With a `file`, the helper reads the job from
    /// it (from `offset`); without, from the rest of its standard input.
    struct Order: Codable {
        var host: String
        var port: Int
        var share: String
        var workgroup: String
        var user: String
        var password: [UInt8]
        var temporaryName: String
        var timeoutSeconds: Int
        var smbclient: String
        var file: String?
        var offset: UInt64
    }

    /// Jobs smaller than this go over libsmbclient alone: one write of the standard sender's block covers them.
    public static let minimumSize: Int64 = 8 << 20

    /// Copies `prefix` and then `file` from `offset` on into `share` as `temporaryName` with `smbclient put` and
    /// renames it to `name` once smbclient says every byte is written (its one command's status: a failed write
    /// fails it). `progress` gets the bytes sent so far. The receiving site checks the job's hash and signature
    /// in any case.
    public static func upload(
        _ file: URL,
        from offset: UInt64,
        after prefix: Data,
        to share: SMBShare,
        credentials: SMBCredentials,
        as name: String,
        temporaryName: String,
        helper: SMBHelper,
        timeout: Duration = .seconds(10),
        progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws {
        let input = try RegularInput(file)
        defer { input.close() }
        let expected = Int64(prefix.count) + max(0, input.size - Int64(offset))
        let order = Order(
            host: share.host,
            port: share.port,
            share: share.share,
            workgroup: credentials.workgroup,
            user: credentials.user,
            password: credentials.password,
            temporaryName: temporaryName,
            timeoutSeconds: Int(timeout.components.seconds),
            smbclient: helper.smbclient,
            file: prefix.isEmpty ? file.path : nil,
            offset: offset
        )
        let client = try await ClientProcess.start(helper, order)
        try await withTaskCancellationHandler {
            // The rename needs a connection of this process: made while smbclient copies.
            async let connected: Void? = try? share.connect()
            do {
                if order.file == nil {
                    try await client.stream(prefix, then: input, from: offset, progress: progress)
                    try await client.finish()
                } else {
                    try client.closeInput()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { await client.follow(expected, progress: progress) }
                        try await client.finish()
                        group.cancelAll()
                    }
                }
            } catch {
                client.kill()
                _ = await connected
                if error is SMBError || error is CancellationError { throw error }
                // A broken pipe says less than smbclient's own words (a refused logon, a full share).
                let said = await client.said.value
                throw SMBError(
                    operation: "put",
                    target: "\(share.url)/\(temporaryName)",
                    code: EIO,
                    reason: said.isEmpty ? "\(error)" : said
                )
            }
            _ = await connected
        } onCancel: {
            client.kill()
        }
        try Task.checkCancellation()
        progress(expected)
        try await share.rename(temporaryName, to: name)
    }

    /// The helper's side: reads its order, sets up smbclient's input and authentication file, and becomes
    /// `smbclient … -c 'put - NAME'`. Returns only by throwing what went wrong.
    public static func becomeSMBClient() throws -> Never {
        _ = csmb_die_with_parent()
        if getppid() == 1 { throw SMBError(operation: "start", target: "helper", code: ESRCH, reason: "no parent") }
        let order: Order
        do {
            order = try JSONDecoder().decode(Order.self, from: try readLine(STDIN_FILENO))
        } catch {
            throw SMBError(
                operation: "read order",
                target: "standard input",
                code: EINVAL,
                reason: "expected one line of JSON with host, port, share, workgroup, user, password,"
                    + " temporaryName, timeoutSeconds, smbclient and offset"
            )
        }
        try check(order)
        if let file = order.file {
            let input = Glibc.open(file, O_RDONLY | O_NOFOLLOW)
            guard input >= 0, regularFileSize(input) != nil,
                lseek(input, off_t(order.offset), SEEK_SET) == off_t(order.offset),
                dup2(input, STDIN_FILENO) == STDIN_FILENO
            else {
                throw SMBError(
                    operation: "open",
                    target: file,
                    code: EINVAL,
                    reason: "expected a regular file (not a link) to read from offset \(order.offset)"
                )
            }
            Glibc.close(input)
        }
        // The authentication file is a pipe holding it whole: written and closed before smbclient starts.
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SMBError(operation: "pipe", target: "helper", code: errno, reason: "") }
        let text =
            Data("username = \(order.user)\ndomain = \(order.workgroup)\npassword = ".utf8) + Data(order.password)
            + Data("\n".utf8)
        let written = text.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        Glibc.close(ends[1])
        guard written == text.count, ends[0] == 3 || dup2(ends[0], 3) == 3 else {
            throw SMBError(operation: "pipe", target: "helper", code: errno, reason: "cannot pass the credentials")
        }
        let arguments = [
            "smbclient", "//\(order.host)/\(order.share)", "--port=\(order.port)", "--authentication-file=/dev/fd/3",
            "--timeout=\(order.timeoutSeconds)", "--use-kerberos=off", "--command=put - \"\(order.temporaryName)\"",
        ]
        let argv = arguments.map { strdup($0) } + [nil]
        execv(order.smbclient, argv)
        throw SMBError(
            operation: "exec",
            target: order.smbclient,
            code: errno,
            reason: String(cString: strerror(errno))
        )
    }

    /// Every text that reaches smbclient's command line or authentication file, checked: names and addresses
    /// of plain characters only, so nothing can end a quoted name, start a second command or a second line.
    static func check(_ order: Order) throws {
        func plain(_ text: String, extra: Set<Character> = []) -> Bool {
            !text.isEmpty && text.count <= 255
                && text.allSatisfy {
                    ($0.isASCII && ($0.isLetter || $0.isNumber)) || "._-".contains($0) || extra.contains($0)
                }
        }
        let problems = [
            plain(order.host, extra: [":"]) ? nil : "host",
            plain(order.share, extra: ["$"]) ? nil : "share",
            plain(order.temporaryName) ? nil : "temporary name",
            plain(order.user, extra: ["@"]) ? nil : "user",
            plain(order.workgroup) ? nil : "workgroup",
            order.password.contains(where: { $0 < 0x20 || $0 == 0x7f }) || order.password.isEmpty ? "password" : nil,
            (1...65535).contains(order.port) ? nil : "port",
            (1...600).contains(order.timeoutSeconds) ? nil : "timeout",
            order.smbclient.hasPrefix("/") ? nil : "smbclient path",
        ].compactMap { $0 }
        guard problems.isEmpty else {
            throw SMBError(
                operation: "read order",
                target: "standard input",
                code: EINVAL,
                reason: "unusable \(problems.joined(separator: ", ")): expected letters, digits, '.', '_' and '-',"
                    + " a password without control characters, a port of 1-65535, a timeout of 1-600 s,"
                    + " an absolute smbclient path"
            )
        }
    }

    /// One line from `descriptor`, read a byte at a time so that nothing after it is taken: what follows is the
    /// job, for smbclient.
    static func readLine(_ descriptor: Int32) throws -> Data {
        var line = Data()
        var byte: UInt8 = 0
        while line.count < 64 << 10 {
            let count = read(descriptor, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { break }
            if byte == UInt8(ascii: "\n") { return line }
            line.append(byte)
        }
        throw SMBError(operation: "read order", target: "standard input", code: EINVAL, reason: "expected one line")
    }
}

/// A job file opened for reading: regular, not followed through a link.
private struct RegularInput {
    let handle: FileHandle
    let size: Int64

    init(_ file: URL) throws {
        let descriptor = Glibc.open(file.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0, let size = regularFileSize(descriptor) else {
            if descriptor >= 0 { Glibc.close(descriptor) }
            throw SMBError(operation: "open", target: file.path, code: EINVAL, reason: "not a readable regular file")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        self.size = size
    }

    func close() { try? handle.close() }
}

/// The running helper, smbclient once it has read its order.
private final class ClientProcess: Sendable {
    private let process: Process
    private let input: FileHandle
    /// What smbclient prints, read as it comes so that it never blocks on a full pipe; its last KiB is kept for
    /// the error.
    let said: Task<String, Never>

    private init(process: Process, input: FileHandle, output: FileHandle) {
        self.process = process
        self.input = input
        said = Task {
            await withBlockingWork {
                var kept = Data()
                while case let chunk = output.availableData, !chunk.isEmpty { kept = (kept + chunk).suffix(1024) }
                return String(decoding: kept, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
    }

    static func start(_ helper: SMBHelper, _ order: SMBClientUpload.Order) async throws -> ClientProcess {
        let process = Process()
        process.executableURL = helper.executable
        process.arguments = helper.arguments
        // The helper needs no inherited secret; SITELOC_* passwords were taken out of the environment at start.
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try await withBlockingWork { try process.run() }
        // Only smbclient holds the pipe's writing end now: its end is the end of what it says.
        try output.fileHandleForWriting.close()
        let client = ClientProcess(
            process: process,
            input: input.fileHandleForWriting,
            output: output.fileHandleForReading
        )
        do {
            let request = try JSONEncoder().encode(order) + Data("\n".utf8)
            try await withBlockingWork { try withoutBrokenPipeSignal { try client.input.write(contentsOf: request) } }
        } catch {
            client.kill()
            throw error
        }
        return client
    }

    /// Sends `prefix` and then `file` from `offset` on through smbclient's standard input, then closes it.
    func stream(
        _ prefix: Data,
        then file: RegularInput,
        from offset: UInt64,
        progress: @escaping @Sendable (Int64) -> Void
    ) async throws {
        try await withBlockingWork {
            try withoutBrokenPipeSignal { try self.streamNow(prefix, then: file, from: offset, progress: progress) }
        }
    }

    private func streamNow(
        _ prefix: Data,
        then file: RegularInput,
        from offset: UInt64,
        progress: @escaping @Sendable (Int64) -> Void
    ) throws {
        try input.write(contentsOf: prefix)
        var sent = Int64(prefix.count)
        try file.handle.seek(toOffset: offset)
        while let block = try file.handle.read(upToCount: 1 << 20), !block.isEmpty {
            try Task.checkCancellation()
            try input.write(contentsOf: block)
            sent += Int64(block.count)
            progress(sent)
        }
        try input.close()
    }

    func closeInput() throws { try input.close() }

    /// Reports how far smbclient has read its input file (its position, in /proc), until cancelled.
    func follow(_ size: Int64, progress: @escaping @Sendable (Int64) -> Void) async {
        let pid = process.processIdentifier
        while (try? await Task.sleep(for: .milliseconds(250))) != nil {
            if let text = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/0", encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix("pos:") }),
                let position = Int64(line.dropFirst(4).trimmingCharacters(in: .whitespaces))
            {
                progress(min(position, size))
            }
        }
    }

    /// Waits for smbclient to end; throws what it said when it ended badly.
    func finish() async throws {
        let said = await said.value
        try await withBlockingWork {
            self.process.waitUntilExit()
            guard self.process.terminationReason == .exit, self.process.terminationStatus == 0 else {
                throw SMBError(
                    operation: "put",
                    target: "smbclient",
                    code: EIO,
                    reason: said.isEmpty ? "smbclient ended with status \(self.process.terminationStatus)" : said
                )
            }
        }
    }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }
}

/// Runs `body` with SIGPIPE blocked on this thread: a write into the pipe of an smbclient that has already ended
/// fails with EPIPE instead of ending the whole site server. A SIGPIPE raised meanwhile is taken before the mask
/// is restored, so it never reaches the thread's next job. Scoped to the writes on purpose: a blocking-work thread
/// that kept SIGPIPE blocked would hand the blocked signal to every child it starts (Foundation's Process does not
/// reset the mask; seen with /proc/self/status).
private func withoutBrokenPipeSignal<T>(_ body: () throws -> T) throws -> T {
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
