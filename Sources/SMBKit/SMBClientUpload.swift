import BlockingWork
internal import CSMBClient
public import Foundation
import Synchronization
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Samba's `smbclient`, which the standard sender's large copies go through.
public struct SMBClientProgram: Sendable {
    public var path: String
    /// Debian's smbclient package.
    public static let debianPath = "/usr/bin/smbclient"

    public init(path: String = debianPath) { self.path = path }

    /// Debian's smbclient when it is installed, else nil (the sender then stays on libsmbclient).
    public static var installed: SMBClientProgram? {
        FileManager.default.isExecutableFile(atPath: debianPath) ? SMBClientProgram() : nil
    }
}

/// A file copied into a share by Samba's `smbclient put`, which keeps up to 256 writes in flight on one
/// connection (`cli_push`), then renamed whole over libsmbclient.
///
/// libsmbclient waits for each write's answer (`cli_writeall`) and has no pipelined write, so over a link with a
/// round trip it leaves the link idle between writes; several libsmbclient connections at once (helper processes
/// writing parts at offsets, this sender's first design) reached 0.80 of `smbclient put` over an emulated WAN
/// link, since every connection still waits once per write. So the bytes travel through `smbclient` itself,
/// started straight from this process: its password goes through a pipe it reads as its authentication file
/// (`-A /dev/fd/3`), never its command line or environment; it reads the job from its standard input (the file
/// itself, or a pipe when the job goes out with a new header); it dies with this process (PR_SET_PDEATHSIG, set
/// between fork and exec); it runs one command, so its exit status is that command's. A copy cut short leaves
/// only the temporary name, which the next delivery writes again.
public enum SMBClientUpload {
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
        smbclient: SMBClientProgram,
        timeout: Duration = .seconds(10),
        progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws {
        let order = Order(
            host: share.host,
            port: share.port,
            share: share.share,
            workgroup: credentials.workgroup,
            user: credentials.user,
            password: credentials.password,
            temporaryName: temporaryName,
            timeoutSeconds: Int(timeout.components.seconds),
            smbclient: smbclient.path
        )
        try check(order)
        let input = try RegularInput(file)
        defer { input.close() }
        let expected = Int64(prefix.count) + max(0, input.size - Int64(offset))
        let client = try await ClientProcess.start(order, reading: prefix.isEmpty ? input : nil, from: offset)
        try await withTaskCancellationHandler {
            // The rename needs a connection of this process: made while smbclient copies.
            async let connected: Void? = try? share.connect()
            do {
                if prefix.isEmpty {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { await client.follow(expected, progress: progress) }
                        try await client.finish()
                        group.cancelAll()
                    }
                } else {
                    try await client.stream(prefix, then: input, from: offset, progress: progress)
                    try await client.finish()
                }
            } catch {
                await client.end()
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

    /// What reaches smbclient's command line and authentication file.
    struct Order {
        var host: String
        var port: Int
        var share: String
        var workgroup: String
        var user: String
        var password: [UInt8]
        var temporaryName: String
        var timeoutSeconds: Int
        var smbclient: String

        var arguments: [String] {
            [
                "smbclient", "//\(host)/\(share)", "--port=\(port)", "--authentication-file=/dev/fd/3",
                "--timeout=\(timeoutSeconds)", "--use-kerberos=off", "--command=put - \"\(temporaryName)\"",
            ]
        }

        var authentication: Data {
            Data("username = \(user)\ndomain = \(workgroup)\npassword = ".utf8) + Data(password) + Data("\n".utf8)
        }
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
                operation: "start smbclient",
                target: "//\(order.host)/\(order.share)",
                code: EINVAL,
                reason: "unusable \(problems.joined(separator: ", ")): expected letters, digits, '.', '_' and '-',"
                    + " a password without control characters, a port of 1-65535, a timeout of 1-600 s,"
                    + " an absolute smbclient path"
            )
        }
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
            throw SMBError(
                operation: "open",
                target: file.path,
                code: EINVAL,
                reason: "expected a regular file (not a link)"
            )
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        self.size = size
    }

    func close() { try? handle.close() }
}

/// A running smbclient, started by ``start(_:reading:from:)``, reaped by ``finish()`` or ``end()``.
private final class ClientProcess: Sendable {
    let pid: pid_t
    /// Its standard input when this process streams the job into it (nil: it reads the job file itself).
    private let input: FileHandle?
    /// Its exit status (as from waitpid) once it has been reaped; its pid may belong to another process then, so
    /// nothing is sent to it.
    private let reaped = Mutex<Int32?>(nil)
    /// What smbclient prints, read as it comes so that it never blocks on a full pipe; its last KiB is kept for
    /// the error.
    let said: Task<String, Never>

    private init(pid: pid_t, input: FileHandle?, output: FileHandle) {
        self.pid = pid
        self.input = input
        said = Task {
            await withBlockingWork {
                var kept = Data()
                while case let chunk = output.availableData, !chunk.isEmpty { kept = (kept + chunk).suffix(1024) }
                try? output.close()
                return String(decoding: kept, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
    }

    /// Starts smbclient for `order`: reading `file` from `offset` when given, else a pipe this process writes.
    static func start(
        _ order: SMBClientUpload.Order,
        reading file: RegularInput?,
        from offset: UInt64
    ) async throws
        -> ClientProcess
    {
        func pipe() throws -> (read: Int32, write: Int32) {
            var ends: [Int32] = [0, 0]
            guard csmb_pipe(&ends) == 0 else {
                throw SMBError(
                    operation: "pipe",
                    target: "smbclient",
                    code: errno,
                    reason: String(cString: strerror(errno))
                )
            }
            return (ends[0], ends[1])
        }
        // The authentication file is a pipe holding it whole, its writing end closed before smbclient starts.
        let authentication = try pipe()
        let text = order.authentication
        let written = text.withUnsafeBytes { write(authentication.write, $0.baseAddress, $0.count) }
        close(authentication.write)
        defer { close(authentication.read) }
        guard written == text.count else {
            throw SMBError(operation: "pipe", target: "smbclient", code: EIO, reason: "cannot pass the credentials")
        }
        // Its standard input: the job file from the offset, or a pipe this process streams the job into.
        var stream: (read: Int32, write: Int32)?
        let standardInput: Int32
        if let file {
            standardInput = file.handle.fileDescriptor
            guard lseek(standardInput, off_t(offset), SEEK_SET) == off_t(offset) else {
                throw SMBError(operation: "seek", target: "job", code: errno, reason: "offset \(offset)")
            }
        } else {
            let ends = try pipe()
            stream = ends
            standardInput = ends.read
        }
        let output: (read: Int32, write: Int32)
        do {
            output = try pipe()
        } catch {
            if let stream {
                close(stream.read)
                close(stream.write)
            }
            throw error
        }
        let arguments = order.arguments
        let program = order.smbclient
        let started = await SpawningThread.shared.run {
            let argv = arguments.map { strdup($0) } + [nil]
            defer { for argument in argv { free(argument) } }
            return csmb_spawn_dying_with_thread(
                program,
                argv,
                environ,
                standardInput,
                output.write,
                authentication.read
            )
        }
        close(output.write)
        if let stream { close(stream.read) }
        guard started > 0 else {
            close(output.read)
            if let stream { close(stream.write) }
            throw SMBError(
                operation: "start",
                target: program,
                code: -started,
                reason: String(cString: strerror(-started))
            )
        }
        return ClientProcess(
            pid: started,
            input: stream.map { FileHandle(fileDescriptor: $0.write, closeOnDealloc: true) },
            output: FileHandle(fileDescriptor: output.read, closeOnDealloc: false)
        )
    }

    /// Sends `prefix` and then `file` from `offset` on through smbclient's standard input, then closes it.
    func stream(
        _ prefix: Data,
        then file: RegularInput,
        from offset: UInt64,
        progress: @escaping @Sendable (Int64) -> Void
    ) async throws {
        guard let input else { return }
        try await withBlockingWork {
            try withoutBrokenPipeSignal {
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
        }
    }

    /// Reports how far smbclient has read its input file (its position, in /proc), until cancelled.
    func follow(_ size: Int64, progress: @escaping @Sendable (Int64) -> Void) async {
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
        let status = await reap()
        guard status == 0 else {
            let how = (status & 0x7f) == 0 ? "with status \((status >> 8) & 0xff)" : "by signal \(status & 0x7f)"
            throw SMBError(
                operation: "put",
                target: "smbclient",
                code: EIO,
                reason: said.isEmpty ? "smbclient ended \(how)" : said
            )
        }
    }

    /// Kills smbclient if it still runs and waits until it has ended.
    func end() async {
        kill()
        try? input?.close()
        _ = await reap()
    }

    func kill() {
        reaped.withLock { status in
            if status == nil { _ = Glibc.kill(pid, SIGKILL) }
        }
    }

    /// Waits for smbclient's end, then reaps it. It is looked at first without being reaped (WNOWAIT), so that
    /// its pid stays its own while ``kill()`` may still send to it.
    private func reap() async -> Int32 {
        if let known = reaped.withLock({ $0 }) { return known }
        return await withBlockingWork {
            var information = siginfo_t()
            while waitid(P_PID, id_t(self.pid), &information, WEXITED | WNOWAIT) != 0, errno == EINTR {}
            return self.reaped.withLock { status -> Int32 in
                if let known = status { return known }
                var result: Int32 = 0
                while waitpid(self.pid, &result, 0) < 0, errno == EINTR {}
                status = result
                return result
            }
        }
    }
}

/// The thread smbclient is started from. PR_SET_PDEATHSIG fires when the thread that started a process ends, not
/// its process, and a blocking-work thread ends after a few idle seconds: started from one, a long copy would be
/// killed halfway. This thread lives as long as the process.
private final class SpawningThread: Sendable {
    static let shared = SpawningThread()

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let waiting = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                waiting.wait()
                let job = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                job?()
            }
        }
        thread.name = "siteloc-spawn"
        thread.start()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            jobs.withLock { $0.append { continuation.resume(returning: body()) } }
            waiting.signal()
        }
    }
}
