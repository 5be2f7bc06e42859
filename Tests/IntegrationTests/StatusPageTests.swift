import BlockingWork
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The status page and the metrics of `siteloc site run`, checked from outside: Debian's chromium renders the page
/// of a site after a package has travelled and a hostile job was rejected, and `/metrics` parses as Prometheus
/// text (the Python `prometheus_client` parser) with counters that moved as the package travelled.
extension CommandLine {
    @Test(.timeLimit(.minutes(4))) func theStatusPageInABrowserAndTheMetricsFollowAPackage() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-page-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let site = ["--hierarchy", Self.example, "--dir", folder]
        for code in ["CEN", "P01"] {
            #expect(try await Self.siteloc(["site", "init", "--site", code] + site).status == 0)
        }
        // No directory here: the two sites exchange keys by hand (P01's package status comes back signed by P01).
        for (from, to) in [("CEN", "P01"), ("P01", "CEN")] {
            let key = folder + "/\(from).key"
            #expect(try await Self.siteloc(["keys", "export", "--site", from, "--output", key] + site).status == 0)
            #expect(try await Self.siteloc(["keys", "import", "--site", to, "--file", key] + site).status == 0)
        }
        let content = folder + "/office.bin"
        try Data(repeating: 7, count: 300_000).write(to: URL(fileURLWithPath: content))
        // A job whose name is markup: rejected as malformed, and shown as text, never as an element.
        let hostile = "evil<b>bold.CEN.x.job"
        try Data("not a job".utf8).write(to: URL(fileURLWithPath: folder + "/sites/CEN/inbox/" + hostile))

        let printed = folder + "/run.out"
        _ = FileManager.default.createFile(atPath: printed, contents: nil)
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["site", "run", "--all", "--transport", "folder", "--poll-interval", "0.05"] + site
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: printed))
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let statusURL = try await Self.waitFor("CEN's status page", seconds: 60) { () -> String? in
            let lines = ((try? String(contentsOfFile: printed, encoding: .utf8)) ?? "").split(separator: "\n")
            return lines.first { $0.hasPrefix("status page of CEN: ") }.map { String($0.dropFirst(20)) }
        }
        let base = try #require(URL(string: statusURL)?.deletingLastPathComponent().deletingLastPathComponent())
        let before = try await Self.samples(try await Self.fetch(base.appendingPathComponent("metrics")))

        #expect(try await Self.siteloc(["send", "package", "CEN00001", "--content", content] + site).status == 0)
        // Travelled when P01's package status is back at CEN and the hostile job is rejected.
        let status = base.appendingPathComponent("siteloc/v1/status")
        _ = try await Self.waitFor("P01's package status at CEN", seconds: 60) { () -> Bool? in
            guard let data = try? await Self.fetch(status),
                let overview = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any],
                let packages = overview["packages"] as? [[String: Any]],
                let rejected = overview["rejected"] as? [[String: Any]]
            else { return nil }
            let installed = packages.first { $0["package"] as? String == "CEN00001" }?["installed"] as? Int
            return installed == 1 && rejected.contains { $0["file"] as? String == hostile } ? true : nil
        }

        let after = try await Self.samples(try await Self.fetch(base.appendingPathComponent("metrics")))
        func moved(_ series: String) -> Bool { (after[series] ?? 0) > (before[series] ?? 0) }
        #expect(moved(#"siteloc_jobs_received_total{site="P01"}"#), "\(after)")
        #expect(moved(#"siteloc_site_events_total{event="applied",site="P01"}"#), "\(after)")
        #expect(moved(#"siteloc_site_events_total{event="status",site="CEN"}"#), "\(after)")
        #expect(moved(#"siteloc_delivery_attempts_total{outcome="delivered",sender="standard",site="CEN",to="P01"}"#))
        #expect(
            (after[#"siteloc_sent_bytes_total{sender="standard",site="CEN",to="P01"}"#] ?? 0) >= 300_000,
            "\(after)"
        )
        #expect((after[#"siteloc_jobs_rejected_total{reason="malformed",site="CEN"}"#] ?? 0) >= 1, "\(after)")

        let html = try await Self.fetch(try #require(URL(string: statusURL)))
        // Nothing the page needs comes from anywhere else: no scripts, images, fonts or style sheets to load.
        for reference in ["src=", "url(", "@import", "href=\"http", "href=\"//", "<script"] {
            #expect(!html.contains(reference), "the page refers to something with \(reference)")
        }
        let output = Self.testOutput.appendingPathComponent("status-page")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let screenshot = output.appendingPathComponent("CEN.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let dom = try await Self.chromium(["--dump-dom", statusURL])
        _ = try await Self.chromium(["--screenshot=\(screenshot)", "--window-size=1280,1400", statusURL])
        print("status page screenshot: \(screenshot)")
        #expect(FileManager.default.fileExists(atPath: screenshot))
        for expected in [
            #"data-site="CEN""#, #"data-site="P01""#, #"data-package="CEN00001" data-site="P01" class="ok""#,
            "installed at 1 of", "evil&lt;b&gt;bold.CEN.x.job", "malformed", #"data-link="CEN-P01-1""#,
        ] {
            #expect(dom.contains(expected), "the rendered page has no \(expected)")
        }
        #expect(!dom.contains("<b>bold"), "a file name became markup")
    }

    /// Where tests leave what a person may want to look at (screenshots): `.build/test-output`.
    static let testOutput = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/test-output")

    /// Polls `probe` every 100 ms until it gives a value; fails after `seconds`.
    static func waitFor<T>(_ what: String, seconds: Int, _ probe: () async -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let value = await probe() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw StatusPageFailure("no \(what) within \(seconds) s")
    }

    /// A GET over a socket of this process: no child process per request (a fork while another test's site server
    /// holds its lock would hold that lock too, until the child execs).
    static func fetch(_ url: URL) async throws -> String {
        let port = try #require(url.port)
        let answer = try await RawHTTP.send(
            port: port,
            "GET \(url.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        guard answer.status == 200 else { throw StatusPageFailure("GET \(url.path): \(answer.status)") }
        return String(decoding: answer.body, as: UTF8.self)
    }

    /// The samples of Prometheus text as parsed by `prometheus_client` (Debian's python3-prometheus-client): each
    /// series as `name{label="value",…}` with the labels sorted, and its value.
    static func samples(_ text: String) async throws -> [String: Double] {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = s.value
            print(json.dumps(out))
            """
        let parsed = try await withBlockingWork { try runProgram("/usr/bin/python3", ["-c", script], input: text) }
        return try #require(try JSONSerialization.jsonObject(with: Data(parsed.utf8)) as? [String: Double])
    }

    /// Debian's chromium, headless; as root it needs `--no-sandbox`.
    static func chromium(_ arguments: [String]) async throws -> String {
        try await withBlockingWork {
            try runProgram(
                "/usr/bin/chromium",
                ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--timeout=15000"] + arguments
            )
        }
    }

    /// Runs a program to its end and gives its standard output; a failure names the program and what it said.
    static func runProgram(_ program: String, _ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let said = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StatusPageFailure(
                "\(program) \(arguments.first ?? "") exited \(process.terminationStatus): "
                    + String(decoding: said.suffix(2000), as: UTF8.self)
            )
        }
        return String(decoding: printed, as: UTF8.self)
    }
}

struct StatusPageFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
