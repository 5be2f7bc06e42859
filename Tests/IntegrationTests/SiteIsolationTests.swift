import Foundation
import Logging
import SiteAssembly
import SiteDatabase
import SiteModel
import SiteServer
import Testing

/// Each site server with a folder root of its own, as on machines of their own: nothing is shared but what the
/// senders deliver into the next site's inbox. Packages still arrive, package status still reaches every site
/// above, and each management point's knowledge comes from its own database.
@Suite(.timeLimit(.minutes(2))) struct SiteIsolation {
    @Test func sitesWithFolderRootsOfTheirOwnStillExchangePackagesAndStatus() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "siteloc-isolated-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: base) }
        let fixture = try SiteFolderFixture(SiteServerRefusal.yaml, initialize: [])
        defer { fixture.remove() }
        let hierarchy = fixture.hierarchy
        @Sendable func root(_ code: SiteCode) -> URL {
            base.appendingPathComponent("\(code)-machine", isDirectory: true)
        }
        var keys: [SiteCode: SitePublicKey] = [:]
        for site in hierarchy.sites {
            keys[site.code] = try SiteFolders(site: site.code, sitesDirectory: root(site.code)).initialize().key
        }
        let published = keys
        // Deliveries go into the next machine's inbox: the one thing a site touches outside its root.
        let deployment = Deployment(hierarchy: hierarchy, siteRoot: root, logger: Logger(label: "test"))
        let servers = try deployment.siteServers(hierarchy.sites.map(\.code)) { settings in
            settings.directoryKey = { published[$0].map { .key($0) } ?? .absent }
            settings.pollInterval = .milliseconds(20)
            settings.retryDelay = .milliseconds(100)
        }
        let cen = try SiteCode("CEN")
        let content = base.appendingPathComponent("content.bin")
        func status(_ code: String) throws -> SiteStatus {
            let site = try SiteCode(code)
            return SiteStatus(folders: deployment.folders(of: site))
        }
        try await SiteServer.running(servers) {
            for byte in [UInt8(1), 2] {
                try Data(repeating: byte, count: 4_000).write(to: content)
                _ = try PackageSending.send(
                    "CEN00001",
                    hierarchy: hierarchy,
                    sitesDirectory: root(cen),
                    content: content
                )
                let version = ContentLibrary.version(sha256: try JobFile.digest(of: content).0)
                try await SiteServerWaits.until("version \(byte) is everywhere and reported", watching: servers) {
                    try ["P01", "S01"].allSatisfy { try status($0).packages.first?.version == version }
                        && Set(try status("CEN").below.filter { $0.version == version }.map(\.site)) == ["P01", "S01"]
                }
                #expect(try status("P01").below.map(\.site) == ["S01"])
                #expect(try status("S01").below.isEmpty && status("P02").below.isEmpty)
                #expect(
                    deployment.contentKnowledge.holders(at: cen, of: "CEN00001") == [
                        "p01-dp.corp.contoso.com", "s01-dp.corp.contoso.com",
                    ]
                )
            }
        }
        // Nothing of another site was written into a machine's root: each holds only its own site's folder.
        for site in hierarchy.sites {
            #expect(try FileManager.default.contentsOfDirectory(atPath: root(site.code).path) == [site.code.rawValue])
        }
    }
}
