import BlockingWork
package import Foundation
import Glibc
import SiteModel
import SystemCalls

/// Starting, watching and stopping the lab's slapd processes, and running the OpenLDAP tools.
package enum ProcessControl {
    /// Starts a program in a new session (so it outlives the command that started it and a terminal's Ctrl-C
    /// does not reach it) with its output appended to `logFile`. Returns its pid.
    package static func spawnDetached(
        _ executable: String,
        _ arguments: [String],
        logFile: String,
        environment: [String: String] = [:]
    ) throws(LabError) -> pid_t {
        do {
            return try ChildProcess.spawnDetached(executable, arguments, logFile: logFile, environment: environment)
        } catch {
            throw LabError(error.description)
        }
    }

    /// Whether the process is running. Reaps it if it is our child and has exited; a zombie counts as gone.
    package static func isAlive(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid { return false }
        guard kill(pid, 0) == 0 else { return false }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
            if state == "Z" { return false }
        }
        return true
    }

    /// Whether `pid` is a slapd serving this configuration folder (so a recycled pid is not mistaken for ours).
    package static func isSlapd(_ pid: pid_t, servingConfig configFolder: String) -> Bool {
        runs(pid, program: "slapd", with: configFolder)
    }

    /// Whether `pid` is alive and runs `program` with `argument` among its arguments.
    package static func runs(_ pid: pid_t, program: String, with argument: String) -> Bool {
        guard isAlive(pid), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
            return false
        }
        let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.first?.hasSuffix(program) == true && arguments.contains(argument)
    }

    /// Sends SIGTERM and waits for the process to end; SIGKILL after `grace`.
    package static func stop(_ pid: pid_t, grace: Duration = .seconds(10)) async {
        guard isAlive(pid) else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while isAlive(pid) {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Runs a tool to completion and returns its standard output; the error names the tool and shows its output.
    /// `input` goes to the tool's standard input (how secrets reach a tool: never as an argument).
    /// The tool runs and is waited for on the blocking executor, never on a cooperative thread.
    package static func run(
        _ executable: String,
        _ arguments: [String],
        input: Data? = nil,
        environment: [String: String] = [:]
    ) async throws(LabError) -> String {
        try await withBlockingWork { () throws(LabError) in
            try runBlocking(executable, arguments, input: input, environment: environment)
        }
    }

    private static func runBlocking(
        _ executable: String,
        _ arguments: [String],
        input: Data?,
        environment: [String: String]
    ) throws(LabError) -> String {
        let finished: ChildProcess.Finished
        do {
            finished = try ChildProcess.run(
                executable,
                arguments,
                input: input,
                mergeErrors: true,
                environment: environment
            )
        } catch {
            throw LabError(error.description)
        }
        guard finished.status == 0 else {
            throw LabError(
                "\((executable as NSString).lastPathComponent) failed (exit \(finished.status)):\n\(finished.text)"
            )
        }
        return finished.text
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` (a blocking connect to loopback, answered or
    /// refused at once).
    package static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, size) }
        } == 0
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    package static func freeLoopbackPort() throws(LabError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LabError("cannot create a socket: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        var length = size
        guard bound == 0 else { throw LabError("cannot find a free port: \(String(cString: strerror(errno)))") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The last `count` lines of a file, for error messages; with `marker`, only what follows its last
    /// occurrence (the latest start attempt).
    package static func tail(_ path: String, lines count: Int = 15, after marker: String? = nil) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log at \(path))" }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if let marker, let last = lines.lastIndex(where: { $0.hasPrefix(marker) }) {
            lines = Array(lines[(last + 1)...])
        }
        return lines.suffix(count).joined(separator: "\n")
    }
}
