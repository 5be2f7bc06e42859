public import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Starting programs: the one place siteloc does it (besides smbclient, whose credentials go on a descriptor of
/// their own, in SMBKit). Every call blocks its thread until the program has started or ended: call it from a
/// blocking thread (`withBlockingWork`), never a cooperative one.
public enum ChildProcess {
    /// How a program that ran to its end ended.
    public struct Finished: Sendable {
        public let status: Int32
        /// Its standard output, with its standard error when they were merged.
        public let output: Data
        /// Its standard error when kept apart.
        public let errors: Data

        public var text: String { String(decoding: output, as: UTF8.self) }
    }

    /// Runs `executable` to its end. `input` goes to its standard input (how secrets reach a tool: never as an
    /// argument); without it, standard input is /dev/null. `mergeErrors` sends its standard error with its output.
    /// `environment` is added to this process's (paths only: never a secret).
    public static func run(
        _ executable: String,
        _ arguments: [String],
        input: Data? = nil,
        mergeErrors: Bool = false,
        environment: [String: String] = [:]
    ) throws(SystemCallError) -> Finished {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = inherited(adding: environment) }
        let output = Pipe()
        let errors = mergeErrors ? output : Pipe()
        process.standardOutput = output
        process.standardError = errors
        let inputPipe = input.map { _ in Pipe() }
        process.standardInput = inputPipe ?? FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw SystemCallError("start", executable, errno: (error as NSError).posixErrno)
        }
        if let input, let inputPipe {
            // A program that ends without reading all of it (one that refused its arguments) must not take this
            // process with it: its status says what happened.
            _ = writeAll(Array(input), to: inputPipe.fileHandleForWriting.fileDescriptor)
            try? inputPipe.fileHandleForWriting.close()
        }
        // Standard error is read on another thread while standard output is read here: a program that fills one
        // pipe while its reader waits on the other would never end.
        let errorData = mergeErrors ? nil : ErrorCollector(errors.fileHandleForReading)
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, output: printed, errors: errorData?.data() ?? Data())
    }

    /// Starts a program in a new session (so it outlives the command that started it and a terminal's Ctrl-C
    /// does not reach it), with no descriptor of this process but its output appended to `logFile`, and no
    /// blocked or ignored signals. `environment` is added to this process's (paths only: never a secret). Returns its
    /// pid.
    public static func spawnDetached(
        _ executable: String,
        _ arguments: [String],
        logFile: String,
        environment: [String: String] = [:]
    ) throws(SystemCallError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // A daemon must not keep the descriptors of whoever started it: an inherited pipe would never see EOF.
        for descriptor in openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child must not inherit this thread's blocked signals (slapd would then ignore SIGTERM) nor any
        // ignored ones. POSIX_SPAWN_SETSIGDEF 0x04, POSIX_SPAWN_SETSIGMASK 0x08, POSIX_SPAWN_SETSID 0x80: the
        // macros are not visible to Swift.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(0x04 | 0x08 | 0x80))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let environ: [UnsafeMutablePointer<CChar>?] =
            inherited(adding: environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for variable in environ { free(variable) } }
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw SystemCallError("start", executable, errno: Errno(rawValue: rc)) }
        return pid
    }

    /// Waits for a child to end and returns its exit status (128 + the signal for one killed by a signal).
    @discardableResult
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// This process's environment with `environment` added over it.
    private static func inherited(adding environment: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
    }

    /// This process's open file descriptors (from /proc/self/fd).
    private static func openDescriptors() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }.filter { fcntl($0, F_GETFD) != -1 }
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class ErrorCollector: @unchecked Sendable {
    // Written only by the reading thread before `done` is signalled, and read only after waiting on it.
    private var collected = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            collected = handle.readDataToEndOfFile()
            done.signal()
        }
        thread.start()
    }

    func data() -> Data {
        done.wait()
        return collected
    }
}

extension NSError {
    /// The errno behind a Foundation error, or EIO when it has none.
    fileprivate var posixErrno: Errno {
        if domain == NSPOSIXErrorDomain { return Errno(rawValue: Int32(code)) }
        if let underlying = userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Errno(rawValue: Int32(underlying.code))
        }
        return .ioError
    }
}
