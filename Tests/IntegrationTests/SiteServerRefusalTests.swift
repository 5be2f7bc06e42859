import Foundation
import HierarchyFile
import Logging
import SiteModel
import SiteRouting
import SiteServer
import Testing

/// A running site server refuses what it must not trust: each refused job is kept aside with its reason, never
/// applied, never forwarded, while a good job beside them goes through.
@Suite(.timeLimit(.minutes(2))) struct SiteServerRefusal {
    static let yaml = """
        version: 1
        forests:
          - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            addresses: [{to: P01, sender: standard, priority: 1}, {to: P02, sender: standard, priority: 1}]
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            systems: [{host: p01-dp.corp.contoso.com, roles: [distributionPoint]}]
            addresses: [{to: CEN, sender: standard, priority: 1}, {to: S01, sender: standard, priority: 1}]
          - code: S01
            type: secondary
            parent: P01
            forest: corp.contoso.com
            server: s01-ss.corp.contoso.com
            systems: [{host: s01-dp.corp.contoso.com, roles: [distributionPoint]}]
            addresses: [{to: P01, sender: standard, priority: 1}]
          - code: P02
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p02-ss.corp.contoso.com
            addresses: [{to: CEN, sender: standard, priority: 1}]
        packages:
          - {id: CEN00001, sourceSite: CEN, distributionPoints: [p01-dp.corp.contoso.com, s01-dp.corp.contoso.com]}
        """

    struct Sites {
        let directory: URL
        let hierarchy: Hierarchy
        var keys: [String: SiteSigningKey] = [:]

        func folders(_ code: String) throws -> SiteFolders {
            SiteFolders(site: try SiteCode(code), sitesDirectory: directory)
        }

        /// A job for `destination` carrying `payload`, as `signer` would send it, signed by `key` (nil: unsigned),
        /// written straight into `site`'s inbox.
        func drop(
            into site: String,
            signer: String,
            destination: String,
            key: SiteSigningKey?,
            payload: Data = Data(repeating: 7, count: 100_000),
            alter: Bool = false
        ) throws -> String {
            let content = directory.appendingPathComponent("payload-\(UUID().uuidString)")
            try payload.write(to: content)
            let (digest, bytes) = try JobFile.digest(of: content)
            let header = JobHeader(
                id: JobHeader.newID(package: "CEN00001", destination: try SiteCode(destination)),
                package: "CEN00001",
                origin: try SiteCode("CEN"),
                destination: try SiteCode(destination),
                signer: try SiteCode(signer),
                priority: .medium,
                created: Date(),
                payloadBytes: bytes,
                payloadSHA256: digest
            )
            // Written beside the inbox first, so the server never sees the job before it is complete.
            let staging = directory.appendingPathComponent("\(header.id).job")
            try JobFile.write(header, payload: content, signedBy: key, to: staging)
            if alter {
                let handle = try FileHandle(forUpdating: staging)
                try handle.seek(toOffset: try handle.seekToEnd() - 5)
                try handle.write(contentsOf: Data([0xFF]))
                try handle.close()
            }
            try FileManager.default.moveItem(
                at: staging,
                to: try folders(site).inbox.appendingPathComponent("\(header.id).\(signer).test.job")
            )
            return header.id
        }
    }

    /// Site folders with keys for CEN, P01, S01 and P02; P01 holds the keys of all three others (so P02's job is
    /// refused for not being a neighbour, not for a missing key).
    static func makeSites(in directory: URL) throws -> Sites {
        let result = HierarchyReader.read(yaml)
        try #require(result.errors.isEmpty, "\(result.errors)")
        var sites = Sites(directory: directory, hierarchy: result.hierarchy)
        for code in ["CEN", "P01", "S01", "P02"] {
            let folders = try sites.folders(code)
            _ = try folders.initialize()
            sites.keys[code] = try SiteSigningKey(contentsOf: folders.signingKey)
        }
        for (receiver, senders) in [("P01", ["CEN", "S01", "P02"]), ("S01", ["P01"]), ("CEN", ["P01"])] {
            for sender in senders {
                let file = directory.appendingPathComponent("\(sender).key")
                let folders = try sites.folders(sender)
                try SiteKeyFile(
                    site: try SiteCode(sender),
                    forest: try ForestName("corp.contoso.com"),
                    key: try #require(folders.readPublicKey())
                ).encoded().write(to: file)
                _ = try sites.folders(receiver).importKey(from: file)
            }
        }
        return sites
    }

    static func server(_ code: String, _ sites: Sites) throws -> SiteServer {
        let directory = sites.directory
        var settings = SiteServerSettings(
            site: try SiteCode(code),
            hierarchy: sites.hierarchy,
            sitesDirectory: directory,
            resolveInbox: { site, _ in
                .folder(directory.appendingPathComponent(site.rawValue).appendingPathComponent("inbox"))
            }
        )
        settings.pollInterval = .milliseconds(20)
        settings.retryDelay = .milliseconds(100)
        return try SiteServer(settings: settings, logger: Logger(label: "test"))
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () throws -> Bool) async throws
    {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func unsignedWrongKeyAlteredAndNonNeighbourJobsAreRejectedWithTheirReasons() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "siteloc-refusal-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let sites = try Self.makeSites(in: directory)
        let p01 = try Self.server("P01", sites)
        let running = Task { try await p01.run() }
        defer { running.cancel() }

        // Four jobs for S01 that P01 must not forward, one for P01 itself it must not apply, and one good job.
        var expected: [String: JobRejection.Code] = [:]
        expected[try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: nil)] = .unsigned
        expected[try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: sites.keys["S01"])] = .badSignature
        expected[try sites.drop(into: "P01", signer: "CEN", destination: "P01", key: sites.keys["CEN"], alter: true)] =
            .altered
        expected[try sites.drop(into: "P01", signer: "P02", destination: "S01", key: sites.keys["P02"])] = .notNeighbour
        let good = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: sites.keys["CEN"])

        let p01Folders = try sites.folders("P01")
        let s01Folders = try sites.folders("S01")
        try await Self.waitUntil("four jobs are rejected and the good one is delivered to S01") {
            let arrived = try FileManager.default.contentsOfDirectory(atPath: s01Folders.inbox.path)
            return SiteStatus(folders: p01Folders).rejected.count == 4 && arrived.contains { $0.hasPrefix(good) }
        }
        let status = SiteStatus(folders: p01Folders)
        var found: [String: String] = [:]
        for rejected in status.rejected {
            let id = String(rejected.file.prefix { $0 != "." })
            found[id] = rejected.code
            #expect(!rejected.reason.isEmpty)
        }
        #expect(found == expected.mapValues(\.rawValue))
        // Nothing refused was applied or forwarded: no content at P01, only the good job went on to S01, and only
        // the good job has a done record.
        #expect(status.packages.isEmpty)
        let delivered = try FileManager.default.contentsOfDirectory(atPath: s01Folders.inbox.path).filter {
            $0.hasSuffix(".job")
        }
        #expect(delivered.count == 1 && delivered[0].hasPrefix(good), "\(delivered)")
        let done = try FileManager.default.contentsOfDirectory(atPath: p01Folders.done.path)
        #expect(done == ["\(good).json"])
        #expect(SiteEvent.read(p01Folders).filter { $0.event == "rejected" }.count == 4)
        // The forwarded copy is re-signed by P01, and S01 (which holds only P01's key) accepts it.
        let forwarded = try JobFile.read(s01Folders.inbox.appendingPathComponent(delivered[0]))
        #expect(forwarded.header.signer == "P01")
        let s01 = try Self.server("S01", sites)
        await s01.processInbox()
        #expect(SiteStatus(folders: s01Folders).packages.map(\.distributionPoints) == [["s01-dp.corp.contoso.com"]])
        #expect(SiteStatus(folders: s01Folders).rejected.isEmpty)
    }

    @Test func aSecondServerForTheSameSiteIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "siteloc-refusal-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let sites = try Self.makeSites(in: directory)
        let first = try Self.server("P01", sites)
        #expect(throws: SiteServerError.self) { _ = try Self.server("P01", sites) }
        _ = first
    }
}
