import BlockingWork
import Foundation
import SiteLocation
import SiteServer
import Synchronization
import SystemCrypto
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Download clients nobody here wrote, from Debian's packages, against siteloc's distribution points
/// (docs/content-services.md, "Real clients"): curl -C -, wget -c and aria2c over one, two and three DPs, fresh,
/// cut and resumed on the same DP, resumed on another DP after roaming, resumed on a DP holding another version of
/// the same size or another size, on a server ignoring Range, and run again on a complete file. Every cell ends with
/// the right SHA-256 or a non-zero exit: the URLs name their version, as the management point gives them, so a DP
/// holding another one answers 404 to a client that resumes with a bare Range and compares nothing.
/// The outcome table is left in `.build/test-output/real-clients.md`.
@Suite(.timeLimit(.minutes(6))) struct RealDownloadClients {
    enum Client: String, CaseIterable, Sendable {
        case curl, wget, aria2c
    }

    /// How a cell ended: the exit status and whether the file on disk is the version first asked for.
    struct Outcome: Sendable, CustomStringConvertible {
        var status: Int32
        var right: Bool
        var description: String { "exit \(status), \(right ? "right SHA-256" : "other bytes")" }
    }

    static let size = 3 << 20

    @Test func curlWgetAndAria2cEndWithTheRightBytesOrFail() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        let content = Data((0..<Self.size).map { UInt8(truncatingIfNeeded: ($0 &* 7) ^ ($0 >> 11)) })
        // P01's two DPs hold the version; CEN's DP will hold others, as a site not yet reached by the new one.
        let placement = try fixture.place("CEN00001", at: "P01", bytes: content)
        let right = placement.version
        let ignoring = try ScriptedServer.ignoringRange(content)
        defer { ignoring.stop() }
        let folder = fixture.root.appendingPathComponent("downloads")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var table: [String] = ["| client | cell | outcome |", "| --- | --- | --- |"]
        var failures: [String] = []

        try await fixture.serving {
            // The URLs a management point gives, pinned to the version; each DP under another name for the same
            // loopback address, since aria2c splits a download only across hosts, never across ports.
            func url(_ host: String, as name: String) throws -> String {
                let port = try #require(try fixture.url(host).port)
                return "http://\(name):\(port)" + ContentService.contentPath(package: "CEN00001", version: right)
            }
            let p01 = try url("p01-dp.corp.contoso.com", as: "127.0.0.1")
            let p01Secure = try url("p01-dp-secure.corp.contoso.com", as: "localhost")
            let cen = try url("cen-dp1.corp.contoso.com", as: "127.1")
            let ignoringURL = "http://127.0.0.1:\(ignoring.port)/SMS_DP_SMSPKG$/CEN00001/"

            var number = 0
            func cell(_ client: Client, _ name: String, _ run: (URL) async throws -> Int32) async throws {
                number += 1
                let file = folder.appendingPathComponent("\(number)-\(client.rawValue).bin")
                let status = try await run(file)
                let bytes = (try? Data(contentsOf: file)) ?? Data()
                let outcome = Outcome(
                    status: status,
                    right: "sha256:" + SHA256.hash(data: bytes).hex == right
                )
                table.append("| \(client.rawValue) | \(name) | \(outcome) |")
                if outcome.status == 0 && !outcome.right {
                    failures.append("\(client.rawValue), \(name): \(outcome)")
                }
            }

            for client in Client.allCases {
                try await cell(client, "fresh") { try await Self.get(client, [p01], to: $0) }
                try await cell(client, "cut, resumed on the same DP") { file in
                    try await Self.cut(client, p01, to: file)
                    return try await Self.get(client, [p01], to: file)
                }
                try await cell(client, "cut, resumed on another DP after roaming") { file in
                    try await Self.cut(client, p01, to: file)
                    return try await Self.get(client, [p01Secure], to: file)
                }
                _ = try fixture.place("CEN00001", at: "CEN", bytes: Data(content.reversed()))
                try await cell(client, "cut, resumed on a DP holding another version of the same size") { file in
                    try await Self.cut(client, p01, to: file)
                    return try await Self.get(client, [cen], to: file)
                }
                _ = try fixture.place("CEN00001", at: "CEN", bytes: content + Data(count: 4_096))
                try await cell(client, "cut, resumed on a DP holding another size") { file in
                    try await Self.cut(client, p01, to: file)
                    return try await Self.get(client, [cen], to: file)
                }
                try await cell(client, "cut, resumed on a server ignoring Range") { file in
                    try await Self.cut(client, p01, to: file)
                    return try await Self.get(client, [ignoringURL], to: file)
                }
                try await cell(client, "run again on a complete file") { file in
                    _ = try await Self.get(client, [p01], to: file)
                    return try await Self.get(client, [p01], to: file)
                }
            }
            // aria2c splits one download over several DPs.
            _ = try fixture.place("CEN00001", at: "CEN", bytes: content)
            try await cell(.aria2c, "fresh over 2 DPs") { try await Self.get(.aria2c, [p01, p01Secure], to: $0) }
            try await cell(.aria2c, "fresh over 3 DPs") { try await Self.get(.aria2c, [p01, p01Secure, cen], to: $0) }
            _ = try fixture.place("CEN00001", at: "CEN", bytes: Data(content.reversed()))
            try await cell(.aria2c, "over 2 DPs, one holding another version of the same size") {
                try await Self.get(.aria2c, [p01, cen], to: $0)
            }
            // Without the version in the URL only the Digest header tells aria2c that a DP serves other bytes.
            let bare = ContentService.contentPath(package: "CEN00001")
            let p01Bare = try #require(p01.split(separator: "?").first).description
            let cenBare = try #require(cen.split(separator: "?").first).description
            #expect(p01Bare.hasSuffix(bare) && cenBare.hasSuffix(bare))
            try await cell(.aria2c, "over 2 DPs by bare URL, one holding another version of the same size") {
                try await Self.get(.aria2c, [p01Bare, cenBare], to: $0)
            }
            _ = try fixture.place("CEN00001", at: "CEN", bytes: content + Data(count: 4_096))
            try await cell(.aria2c, "over 2 DPs, one holding another size") {
                try await Self.get(.aria2c, [p01, cen], to: $0)
            }
            try await cell(.aria2c, "over 2 DPs by bare URL, one holding another size") {
                try await Self.get(.aria2c, [p01Bare, cenBare], to: $0)
            }
        }
        let report = table.joined(separator: "\n") + "\n"
        let output = CommandLine.testOutput
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try report.write(to: output.appendingPathComponent("real-clients.md"), atomically: true, encoding: .utf8)
        print(report)
        #expect(failures.isEmpty, "exit 0 with other bytes: \(failures)\n\(report)")
    }

    /// curl as a probe of what the DP answers: WebDAV, preconditions, 304, 416, and HEAD with GET's headers.
    @Test func curlSeesWebDAVPreconditionsAndHEADAsTheDocsSay() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        let placement = try fixture.place("CEN00001", at: "P01", bytes: Data(repeating: 5, count: 10_000))
        try await fixture.serving {
            let url = try fixture.url("p01-dp.corp.contoso.com").absoluteString + "/SMS_DP_SMSPKG$/CEN00001/"
            func curl(_ arguments: [String]) async throws -> (code: String, headers: [String]) {
                try await withBlockingWork {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                    process.arguments =
                        [
                            "--silent", "--max-time", "20", "--output", "/dev/null", "--dump-header", "-",
                            "--write-out",
                            "%{http_code}",
                        ] + arguments + [url]
                    let output = Pipe()
                    process.standardOutput = output
                    try process.run()
                    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    process.waitUntilExit()
                    let lines = text.components(separatedBy: "\r\n")
                    return (lines.last ?? "", lines.dropFirst().dropLast().filter { !$0.isEmpty })
                }
            }
            let etag = "\"\(placement.version)\""
            #expect(try await curl(["--request", "PROPFIND", "--header", "Depth: 1"]).code == "207")
            #expect(try await curl(["--request", "PROPFIND", "--header", "Depth: infinity"]).code == "403")
            #expect(try await curl(["--header", "If-Match: \"sha256:other\""]).code == "412")
            #expect(try await curl(["--header", "If-None-Match: \(etag)"]).code == "304")
            #expect(try await curl(["--range", "20000-"]).code == "416")
            let get = try await curl([])
            let head = try await curl(["--head"])
            #expect(get.code == "200" && head.code == "200")
            let withoutDate = { (headers: [String]) in headers.filter { !$0.lowercased().hasPrefix("date:") }.sorted() }
            #expect(withoutDate(head.headers) == withoutDate(get.headers))
            #expect(get.headers.contains { $0.lowercased().hasPrefix("digest: sha-256=") })
        }
    }

    /// Runs the client to completion (or its failure) on `urls`, writing `file`.
    static func get(_ client: Client, _ urls: [String], to file: URL) async throws -> Int32 {
        try await withBlockingWork {
            let process = try command(client, urls, to: file)
            let ended = try ProcessEnd.run(process)
            guard ProcessEnd.wait(ended, seconds: 60) else {
                // A hang is a failure: 124, as timeout(1) says.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return 124
            }
            return process.terminationStatus
        }
    }

    /// The client on `url` through a connection cut after a third of the file: a download cut short, the part on
    /// disk (and aria2c's control file) left for the next run.
    static func cut(_ client: Client, _ url: String, to file: URL) async throws {
        let components = try #require(URLComponents(string: url))
        let cutter = try ScriptedServer.cutting(upstream: try #require(components.port), after: size / 3)
        defer { cutter.stop() }
        var through = components
        through.host = "127.0.0.1"
        through.port = cutter.port
        let status = try await get(client, [try #require(through.string)], to: file)
        let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
        let bytes = attributes?[.size] as? Int ?? 0
        #expect(status != 0 && bytes > 0 && bytes < size, "\(client.rawValue) was not cut: \(bytes) bytes on disk")
    }

    /// The client's command line for `urls`, its output in a log beside `file`.
    static func command(_ client: Client, _ urls: [String], to file: URL) throws -> Process {
        let process = Process()
        let log = file.deletingLastPathComponent().appendingPathComponent(file.lastPathComponent + ".log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        try output.seekToEnd()
        process.standardOutput = output
        process.standardError = output
        switch client {
        case .curl:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments =
                ["--silent", "--show-error", "--fail", "--max-time", "60", "-C", "-", "-o", file.path, urls[0]]
        case .wget:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/wget")
            process.arguments =
                ["--quiet", "--tries=1", "--timeout=20", "-c", "-O", file.path, urls[0]]
        case .aria2c:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/aria2c")
            process.arguments =
                [
                    "--quiet", "--continue=true", "--max-tries=1", "--timeout=20", "--auto-file-renaming=false",
                    "--allow-overwrite=false", "--split=\(urls.count)", "--min-split-size=1M",
                    "--max-connection-per-server=1", "--file-allocation=none", "--dir",
                    file.deletingLastPathComponent().path, "--out", file.lastPathComponent,
                ] + urls
        }
        return process
    }
}
