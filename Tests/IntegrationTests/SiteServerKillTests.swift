import Foundation
import SiteDatabase
import SiteModel
import SiteServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A site server killed (SIGKILL) while it stores a package on its distribution points, version after version:
/// nothing lost, nothing applied twice, no half-written content left behind, and every status recorded at the
/// top exactly once. The servers are `siteloc site run` processes delivering into each other's inbox folders.
@Suite(.timeLimit(.minutes(5))) struct SiteServerKills {
    @Test func aSiteServerKilledWhileItStoresAPackageAppliesEachVersionOnce() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-kill-\(UUID().uuidString)")
        let lab = folder.appendingPathComponent("lab")
        let sites = lab.appendingPathComponent("sites")
        defer {
            if ProcessInfo.processInfo.environment["SITELOC_KEEP"] == nil {
                try? FileManager.default.removeItem(at: folder)
            }
        }
        let fixture = try SiteFolderFixture(SiteServerRefusal.yaml, initialize: [])
        let hierarchy = fixture.hierarchy
        let file = folder.appendingPathComponent("hierarchy.yaml")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try SiteServerRefusal.yaml.write(to: file, atomically: true, encoding: .utf8)
        // No directory: every site holds every other site's key as an imported key file.
        var keys: [SiteCode: SitePublicKey] = [:]
        for site in hierarchy.sites {
            keys[site.code] = try SiteFolders(site: site.code, sitesDirectory: sites).initialize().key
        }
        for site in hierarchy.sites {
            let keyFile = folder.appendingPathComponent("\(site.code).key")
            try SiteKeyFile(site: site.code, forest: site.forest, key: try #require(keys[site.code])).encoded()
                .write(to: keyFile)
            for other in hierarchy.sites where other.code != site.code {
                _ = try SiteFolders(site: other.code, sitesDirectory: sites).importKey(from: keyFile)
            }
        }
        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        var servers: [String: SiteCommunication.ServerProcess] = [:]
        defer { for server in servers.values { server.stop() } }
        for site in ["CEN", "P01", "S01", "P02"] {
            servers[site] = try .init(site: site, hierarchy: file.path, lab: lab.path, logs: logs)
        }
        let s01 = SiteFolders(site: try SiteCode("S01"), sitesDirectory: sites)
        let storing = s01.package("CEN00001")
        func temporaryContent() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: storing.path)) ?? []).filter { $0.hasSuffix(".tmp") }
        }
        let content = folder.appendingPathComponent("content.bin")
        var midStore = 0
        var versions: [String] = []
        for round in UInt8(1)...3 {
            // Large enough that storing it takes a while: the kill lands in the middle of it.
            try Data(repeating: round, count: 150_000_000).write(to: content)
            versions.append(ContentLibrary.version(sha256: try JobFile.digest(of: content).0))
            _ = try PackageSending.send("CEN00001", hierarchy: hierarchy, sitesDirectory: sites, content: content)
            // Kill S01 while it stores the content: a half-written file is there when it dies.
            let deadline = ContinuousClock.now + .seconds(120)
            while temporaryContent().isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            servers["S01"]?.stop(signal: SIGKILL)
            midStore += temporaryContent().isEmpty ? 0 : 1
            servers["S01"] = try .init(site: "S01", hierarchy: file.path, lab: lab.path, logs: logs)
            try await SiteCommunication.waitUntil(
                "version \(round) is at S01 and its status at CEN",
                timeout: .seconds(120)
            ) {
                let central = SiteStatus(folders: SiteFolders(site: try SiteCode("CEN"), sitesDirectory: sites))
                return SiteStatus(folders: s01).packages.first?.version == versions.last
                    && central.below.contains { $0.site == "S01" && $0.version == versions.last }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(midStore == 3, "each version's storing was cut short by a kill")
        // Each job applied once at S01, each status recorded once at CEN, and no half-stored content left.
        let applied = SiteCommunication.events(lab.path, "S01").filter { $0["event"] == "applied" }
        #expect(applied.count == 3, "\(applied)")
        #expect(Set(applied.compactMap { $0["job"] }).count == 3)
        let recorded = SiteCommunication.events(lab.path, "CEN").filter {
            $0["event"] == "status" && $0["detail"]?.hasPrefix("S01 ") == true
        }
        #expect(recorded.count == 3, "\(recorded)")
        #expect(Set(recorded.compactMap { $0["job"] }).count == 3)
        #expect(temporaryContent().isEmpty, "\(temporaryContent())")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s01.work.path).isEmpty)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s01.inbox.path).filter { !$0.hasPrefix(".") }.isEmpty
        )
    }
}
