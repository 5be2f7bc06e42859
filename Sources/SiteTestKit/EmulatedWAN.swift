public import Foundation
public import SiteModel

/// An emulated WAN link between this machine's network namespace and a new one (`ip netns add`): a tap device on
/// each side joined by `Benchmarks/wan/tap-link.c` (built with the system's C compiler), which carries every frame
/// `delayMilliseconds` late in each direction and clocks each direction out at `megabitsPerSecond`, as
/// `tc qdisc … netem delay … rate …` would on a veth pair — this project's VM kernel has neither sch_netem nor
/// sch_fq. A server started in ``namespace`` and listening on ``farAddress`` is reached from here only across the
/// link: TCP on both ends sees the round trip, the bottleneck and any loss. Needs root (CAP_NET_ADMIN).
///
/// The link ends when this value is stopped or the process that made it ends (tap-link watches its standard input,
/// a pipe only this process holds); ``stop()`` also deletes the namespace. Namespaces left by a process that died
/// are deleted by the next one.
public final class EmulatedWAN {
    /// The namespace to start the far server in.
    public let namespace: String
    /// The far end's address (in ``namespace``); this side has the next one.
    public let farAddress: String
    public let nearAddress: String
    private let process: Process
    private let input = Pipe()

    private static let prefix = "siteloc-wan-"
    private static let ip = "/usr/sbin/ip"

    public init(delayMilliseconds: Int = 10, megabitsPerSecond: Int = 1000, in folder: URL) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.ip) else {
            throw EmulatedWANError("no \(Self.ip) (install it with: apt-get install iproute2)")
        }
        Self.deleteAbandonedNamespaces()
        let binary = try Self.build(in: folder)
        let pid = ProcessInfo.processInfo.processIdentifier
        let tag = UInt32.random(in: 0..<(1 << 14))
        namespace = "\(Self.prefix)\(pid)-\(tag)"
        // A /30 of 10.77.0.0/16 (the tag's 14 bits), unlikely to meet another link's.
        farAddress = "10.77.\(tag >> 6).\((tag & 63) << 2 | 1)"
        nearAddress = "10.77.\(tag >> 6).\((tag & 63) << 2 | 2)"
        let near = "slw\(tag)n"
        let far = "slw\(tag)f"
        try Self.ip(["netns", "add", namespace])
        process = Process()
        process.executableURL = binary
        process.arguments = [namespace, near, far, String(delayMilliseconds), String(megabitsPerSecond)]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = input
        do {
            try process.run()
            var line = Data()
            while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty,
                byte != Data("\n".utf8)
            {
                line += byte
            }
            guard line == Data("ready".utf8) else { throw EmulatedWANError("tap-link did not start") }
            // Jumbo frames keep the packet rate (and the emulator's load) low at 1 Gbit/s.
            try Self.ip(["link", "set", near, "mtu", "9000", "up"])
            try Self.ip(["addr", "add", nearAddress + "/30", "dev", near])
            try Self.ip(["-n", namespace, "link", "set", "lo", "up"])
            try Self.ip(["-n", namespace, "link", "set", far, "mtu", "9000", "up"])
            try Self.ip(["-n", namespace, "addr", "add", farAddress + "/30", "dev", far])
        } catch {
            stop()
            throw error
        }
    }

    public func stop() {
        if process.isRunning {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        try? Self.ip(["netns", "delete", namespace])
    }

    deinit { stop() }

    private static func build(in folder: URL) throws -> URL {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Benchmarks/wan/tap-link.c")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let binary = folder.appendingPathComponent("tap-link")
        let compilers = ["/usr/bin/cc", "/usr/bin/clang", "/opt/swift/usr/bin/clang"]
        guard let compiler = compilers.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw EmulatedWANError("no C compiler (expected one of \(compilers.joined(separator: ", ")))")
        }
        try runProgram(compiler, ["-O2", "-pthread", "-o", binary.path, source.path])
        return binary
    }

    /// Namespaces of this kind whose process is gone (a crashed test or benchmark).
    private static func deleteAbandonedNamespaces() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = name.dropFirst(prefix.count).split(separator: "-").first.flatMap({ Int32($0) }),
                kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            try? ip(["netns", "delete", name])
        }
    }

    private static func ip(_ arguments: [String]) throws { try runProgram(Self.ip, arguments) }
}

public struct EmulatedWANError: KindedError {
    public var kind: FailureKind { .internalError }
    public var description: String
    init(_ description: String) { self.description = description }
}
