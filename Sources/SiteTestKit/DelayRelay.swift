public import Foundation

/// An emulated WAN link in front of a TCP server on this machine: `Benchmarks/wan/delay-relay.c`, built with the
/// system's C compiler, holding every byte `delayMilliseconds` in each direction and clocking each direction out
/// at `megabitsPerSecond` shared by all connections. It stands in for network namespaces with `tc netem`, which
/// this project's VM kernel lacks. It ends when this value is stopped or the process that started it ends (it
/// watches its standard input, a pipe only this process holds).
public final class DelayRelay {
    /// The port on 127.0.0.1 to connect to instead of the server's.
    public let port: Int
    private let process: Process

    public init(to targetPort: Int, delayMilliseconds: Int = 10, megabitsPerSecond: Int = 1000, in folder: URL) throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Benchmarks/wan/delay-relay.c")
        let binary = folder.appendingPathComponent("delay-relay")
        let compilers = ["/usr/bin/cc", "/usr/bin/clang", "/opt/swift/usr/bin/clang"]
        guard let compiler = compilers.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DelayRelayError("no C compiler (expected one of \(compilers.joined(separator: ", ")))")
        }
        let build = Process()
        build.executableURL = URL(fileURLWithPath: compiler)
        build.arguments = ["-O2", "-pthread", "-o", binary.path, source.path]
        try build.run()
        build.waitUntilExit()
        guard build.terminationStatus == 0 else {
            throw DelayRelayError("cannot build \(source.path) with \(compiler)")
        }
        process = Process()
        process.executableURL = binary
        process.arguments = [
            "0", "127.0.0.1", String(targetPort), String(delayMilliseconds), String(megabitsPerSecond),
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = Pipe()
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line += byte
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw DelayRelayError("the delay relay did not start")
        }
        self.port = port
    }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

public struct DelayRelayError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
