import BlockingWork
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
        // A round whose kill came after the storing ended (a busy machine) proves nothing: another round is sent,
        // up to six, until three kills have landed mid-store.
        var round: UInt8 = 0
        while midStore < 3, round < 6 {
            round += 1
            // Large enough that storing it takes a while: the kill lands in the middle of it.
            try Data(repeating: round, count: 150_000_000).write(to: content)
            versions.append(ContentLibrary.version(sha256: try JobFile.digest(of: content).0))
            _ = try PackageSending.send("CEN00001", hierarchy: hierarchy, sitesDirectory: sites, content: content)
            // Kill S01 while it stores the content: a half-written file is there when it dies.
            let server = try #require(servers["S01"])
            await Self.kill(server.process.processIdentifier, whenAnyOf: storing.path, endsWith: ".tmp")
            server.stop(signal: SIGKILL)
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
        // Nothing may be applied or recorded twice later: wait until every server says it has nothing left to do.
        try await SiteCommunication.waitUntil("the site servers have settled", timeout: .seconds(60)) {
            SiteServerWaits.settled(sites, Array(servers.keys))
        }
        #expect(midStore == 3, "three versions' storing was cut short by a kill (\(round) rounds)")
        // Each job applied once at S01, each status recorded once at CEN, and no half-stored content left.
        let applied = SiteCommunication.events(lab.path, "S01").filter { $0["event"] == "applied" }
        #expect(applied.count == Int(round), "\(applied)")
        #expect(Set(applied.compactMap { $0["job"] }).count == Int(round))
        let recorded = SiteCommunication.events(lab.path, "CEN").filter {
            $0["event"] == "status" && $0["detail"]?.hasPrefix("S01 ") == true
        }
        #expect(recorded.count == Int(round), "\(recorded)")
        #expect(Set(recorded.compactMap { $0["job"] }).count == Int(round))
        #expect(temporaryContent().isEmpty, "\(temporaryContent())")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s01.work.path).isEmpty)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s01.inbox.path).filter { !$0.hasPrefix(".") }.isEmpty
        )
    }

    /// Sends SIGKILL to `pid` as soon as a file whose name ends with `suffix` shows in `folder` (or after two
    /// minutes). The watch runs on a blocking thread of its own: on a busy cooperative pool a task's 2 ms sleep can
    /// last longer than the whole storing.
    static func kill(_ pid: pid_t, whenAnyOf folder: String, endsWith suffix: String) async {
        await withBlockingWork {
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
                if names.contains(where: { $0.hasSuffix(suffix) }) { break }
                usleep(1000)
            }
            _ = Glibc.kill(pid, SIGKILL)
        }
    }
}
