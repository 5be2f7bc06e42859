import Foundation
import SiteDatabase
import SiteModel
import SiteServer
import Testing

/// The whole of site-to-site communication as a user runs it: a lab with its directories and smbd, a site server
/// per site as its own `siteloc site run` process, a package sent from the central site down to a grandchild and
/// across into a sibling branch in another forest, one site server killed in the middle of a transfer and
/// started again, and a roaming client offered the new distribution points.
@Suite(.timeLimit(.minutes(3))) struct SiteCommunication {
    static let yaml = """
        version: 1
        forests:
          - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
          - {name: fabrikam.com, functionalLevel: windows2003, serverOS: windows2003}
        trusts:
          - {forests: [corp.contoso.com, fabrikam.com], type: forest, transitive: true, direction: twoWay}
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            boundaries: [{subnet: 10.10.0.0/16}]
            systems:
              - {host: cen-mp.corp.contoso.com, roles: [managementPoint]}
            addresses: [{to: P01, sender: standard, priority: 1}, {to: P02, sender: standard, priority: 1}]
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            boundaries: [{subnet: 10.20.0.0/16}]
            systems:
              - {host: p01-mp.corp.contoso.com, roles: [managementPoint]}
            addresses:
              - {to: CEN, sender: standard, priority: 1}
              - {to: S01, sender: standard, priority: 1, rateLimit: {pulse: {blockKB: 256, delaySeconds: 1}}}
          - code: S01
            type: secondary
            parent: P01
            forest: corp.contoso.com
            server: s01-ss.corp.contoso.com
            boundaries: [{subnet: 10.22.0.0/24}]
            systems:
              - {host: s01-mp.corp.contoso.com, roles: [managementPoint, distributionPoint]}
            addresses: [{to: P01, sender: standard, priority: 1}]
          - code: P02
            type: primary
            parent: CEN
            forest: fabrikam.com
            server: p02-ss.fabrikam.com
            boundaries: [{subnet: 10.30.0.0/16}]
            systems:
              - {host: p02-mp.fabrikam.com, roles: [managementPoint]}
              - {host: p02-dp.fabrikam.com, roles: [distributionPoint]}
            addresses: [{to: CEN, sender: standard, priority: 1}]
        packages:
          - {id: CEN00001, sourceSite: CEN, distributionPoints: [s01-mp.corp.contoso.com, p02-dp.fabrikam.com]}
        advertisements:
          - {id: CEN20001, package: CEN00001, fastBoundary: downloadAndRun, slowBoundary: downloadAndRun}
        """

    /// A `siteloc site run` process, its output in a log file.
    final class ServerProcess {
        let process = Process()
        let site: String

        init(site: String, hierarchy: String, lab: String, logs: URL) throws {
            self.site = site
            process.executableURL = CommandLine.executable
            process.arguments = [
                "site", "run", "--hierarchy", hierarchy, "--site", site, "--dir", lab, "--retry-delay", "0.5",
                "--poll-interval", "0.05",
            ]
            process.environment = ProcessInfo.processInfo.environment.merging(["SITELOC_LOG_LEVEL": "info"]) { $1 }
            let log = logs.appendingPathComponent("\(site).log")
            if !FileManager.default.fileExists(atPath: log.path) {
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: log)
            try handle.seekToEnd()
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }

        func stop(signal: Int32 = SIGTERM) {
            guard process.isRunning else { return }
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
        }
    }

    static func json(_ run: CommandLine.Run) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "\(run.error)")
    }

    /// The sites whose package status a site's database holds, by code.
    static func reporters(_ lab: String, _ site: String) -> [String] {
        guard let code = try? SiteCode(site) else { return [] }
        let folders = SiteFolders(site: code, sitesDirectory: URL(fileURLWithPath: "\(lab)/sites"))
        return SiteStatus(folders: folders).below.map(\.site).sorted()
    }

    static func waitUntil(_ what: String, timeout: Duration, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw TimeoutError(what: what) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    struct TimeoutError: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting until \(what)" }
    }

    static func events(_ lab: String, _ site: String) -> [[String: String]] {
        let text = (try? String(contentsOfFile: "\(lab)/sites/\(site)/events.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
        }
    }

    @Test func aPackageReachesAGrandchildAndASiblingBranchExactlyOnceThroughAKilledSiteServer() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-sites-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lab = folder.appendingPathComponent("lab").path
        let hierarchy = folder.appendingPathComponent("hierarchy.yaml").path
        try Self.yaml.write(toFile: hierarchy, atomically: true, encoding: .utf8)
        var servers: [String: ServerProcess] = [:]
        defer {
            for server in servers.values { server.stop() }
            CommandLine.cleanUp(["lab", "down", "--dir", lab])
            try? FileManager.default.removeItem(at: folder)
        }
        func siteloc(_ arguments: [String]) async throws -> CommandLine.Run {
            let run = try await CommandLine.siteloc(arguments)
            #expect(run.status == 0, "siteloc \(arguments.joined(separator: " ")): \(run.error)")
            return run
        }

        // The lab: a directory per forest and the smbd with a share per site server.
        let up = try await siteloc(["lab", "up", "--hierarchy", hierarchy, "--dir", lab])
        #expect(up.output.contains("smb  127.0.0.1:"))
        for site in ["CEN", "P01", "S01", "P02"] {
            _ = try await siteloc(["site", "init", "--hierarchy", hierarchy, "--site", site, "--dir", lab])
        }
        // CEN and P02 are in different forests: their keys are exchanged by hand; the others publish theirs.
        for (from, to) in [("CEN", "P02"), ("P02", "CEN")] {
            let file = folder.appendingPathComponent("\(from).key").path
            _ = try await siteloc([
                "keys", "export", "--hierarchy", hierarchy, "--site", from, "--dir", lab, "--output", file,
            ])
            _ = try await siteloc([
                "keys", "import", "--hierarchy", hierarchy, "--site", to, "--dir", lab, "--file", file,
            ])
        }
        _ = try await siteloc(["publish", "--hierarchy", hierarchy, "--dir", lab])

        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        for site in ["CEN", "P01", "S01", "P02"] {
            servers[site] = try ServerProcess(site: site, hierarchy: hierarchy, lab: lab, logs: logs)
        }
        // Once site servers run, a management point answers from its site's database: before the package moves,
        // a client in S01 is offered nothing (without site servers, the offline planner answers from the file).
        try await Self.waitUntil("the site servers have their databases", timeout: .seconds(30)) {
            ["P01", "S01"].allSatisfy { FileManager.default.fileExists(atPath: "\(lab)/sites/\($0)/site.sqlite") }
        }
        let client = [
            "content", "--hierarchy", hierarchy, "--dir", lab, "--ip", "10.22.0.5/24", "--assigned-site", "P01",
            "--forest", "corp.contoso.com", "--package", "CEN00001", "--json",
        ]
        let before = try Self.json(try await siteloc(client))
        #expect((before["distributionPoints"] as? [Any])?.isEmpty == true, "\(before)")
        let content = folder.appendingPathComponent("office.bin")
        try Data((0..<2_000_000).map { _ in UInt8.random(in: 0...255) }).write(to: content)
        let sent = try Self.json(
            try await siteloc([
                "send", "package", "CEN00001", "--hierarchy", hierarchy, "--dir", lab, "--content", content.path,
                "--json",
            ])
        )
        let jobs = try #require(sent["jobs"] as? [[String: Any]])
        #expect(Set(jobs.compactMap { $0["destination"] as? String }) == ["S01", "P02"])
        #expect(jobs.first { $0["destination"] as? String == "S01" }?["route"] as? [String] == ["CEN", "P01", "S01"])
        let s01Job = try #require(jobs.first { $0["destination"] as? String == "S01" }?["id"] as? String)

        // P01 forwards the job to S01 through its rate-limited address: kill it in the middle of that transfer,
        // while a part of the job sits in S01's inbox under its temporary name.
        try await Self.waitUntil("P01 is sending the job to S01", timeout: .seconds(60)) {
            let state = try? Data(contentsOf: URL(fileURLWithPath: "\(lab)/sites/P01/outbox/\(s01Job).state.json"))
            let sentBytes = state.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }?[
                "sentBytes"
            ]
            return (sentBytes as? Int ?? 0) > 0
        }
        let inbox = try FileManager.default.contentsOfDirectory(atPath: "\(lab)/sites/S01/inbox")
        #expect(inbox.contains { $0.hasPrefix(".\(s01Job)") && $0.hasSuffix(".tmp") }, "\(inbox)")
        #expect(!inbox.contains { $0.hasSuffix(".job") }, "the job must not look whole before it is: \(inbox)")
        servers["P01"]?.stop(signal: SIGKILL)
        servers["P01"] = try ServerProcess(site: "P01", hierarchy: hierarchy, lab: lab, logs: logs)

        try await Self.waitUntil("S01 and P02 have the package and CEN has their status", timeout: .seconds(90)) {
            let sites = URL(fileURLWithPath: "\(lab)/sites")
            return isPlaced("CEN00001", at: "S01", sitesDirectory: sites)
                && isPlaced("CEN00001", at: "P02", sitesDirectory: sites)
                && Self.reporters(lab, "CEN") == ["P02", "S01"]
        }
        try await Self.waitUntil("the site servers have settled", timeout: .seconds(30)) {
            SiteServerWaits.settled(URL(fileURLWithPath: "\(lab)/sites"), Array(servers.keys))
        }

        // Exactly once: one apply at each destination, the content whole, nothing left waiting or refused.
        for site in ["S01", "P02"] {
            let applied = Self.events(lab, site).filter { $0["event"] == "applied" }
            #expect(applied.count == 1, "\(site): \(applied)")
            let placed = try #require(
                SiteStatus(
                    folders: SiteFolders(site: SiteCode(site), sitesDirectory: URL(fileURLWithPath: "\(lab)/sites"))
                ).packages.first
            )
            let stored = try Data(
                contentsOf: URL(fileURLWithPath: "\(lab)/sites/\(site)/content/CEN00001/\(placed.sha256).bin")
            )
            #expect(stored == (try Data(contentsOf: content)))
        }
        // P01 forwarded the package down and S01's status up, each once; CEN delivered two packages.
        let forwarded = Self.events(lab, "P01").filter { $0["event"] == "forwarded" }.compactMap { $0["job"] }
        #expect(forwarded.count == 2 && forwarded.filter { $0.hasSuffix("-status") }.count == 1, "\(forwarded)")
        #expect(Self.events(lab, "CEN").filter { $0["event"] == "delivered" }.count == 2)
        // Each status reached every site above its site and no other, recorded once.
        #expect(Self.reporters(lab, "CEN") == ["P02", "S01"])
        #expect(Self.reporters(lab, "P01") == ["S01"])
        #expect(Self.reporters(lab, "P02").isEmpty && Self.reporters(lab, "S01").isEmpty)
        #expect(Self.events(lab, "CEN").filter { $0["event"] == "recorded" }.count == 2)
        let version = try #require(
            SiteStatus(
                folders: SiteFolders(site: try SiteCode("S01"), sitesDirectory: URL(fileURLWithPath: "\(lab)/sites"))
            )
            .packages.first?.version
        )
        let atCentral = SiteStatus(
            folders: SiteFolders(site: try SiteCode("CEN"), sitesDirectory: URL(fileURLWithPath: "\(lab)/sites"))
        )
        #expect(atCentral.below.allSatisfy { $0.version == version }, "\(atCentral.below)")
        // Configuration Manager's package status view, at CEN and at P01.
        let view = try await siteloc(["site", "status", "--site", "CEN", "--hierarchy", hierarchy, "--dir", lab])
        #expect(
            view.output.contains("package CEN00001 \(version.prefix(19))…: installed at 2 of 2 sites below"),
            "\(view.output)"
        )
        let p01View = try await siteloc(["site", "status", "--site", "P01", "--hierarchy", hierarchy, "--dir", lab])
        #expect(p01View.output.contains("installed at 1 of 1 sites below"), "\(p01View.output)")
        let status = try #require(
            try JSONSerialization.jsonObject(
                with: Data(try await siteloc(["site", "status", "--dir", lab, "--json"]).output.utf8)
            )
                as? [[String: Any]]
        )
        for site in status {
            #expect((site["outbox"] as? [Any])?.isEmpty == true, "\(site)")
            #expect((site["rejected"] as? [Any])?.isEmpty == true, "\(site)")
            #expect(site["inbox"] as? Int == 0, "\(site)")
            #expect(site["running"] as? Bool == true, "\(site)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(lab)/sites/S01/inbox")
        #expect(leftovers.isEmpty, "\(leftovers)")

        // The roaming client in S01 is now offered S01's distribution point.
        let after = try Self.json(try await siteloc(client))
        let offered = (after["distributionPoints"] as? [[String: Any]] ?? []).compactMap { $0["host"] as? String }
        #expect(offered == ["s01-mp.corp.contoso.com"], "\(after)")
    }
}
