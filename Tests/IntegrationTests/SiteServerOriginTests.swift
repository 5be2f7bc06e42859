import Foundation
import SiteDatabase
import SiteModel
import Testing

@testable import SiteServer

/// Origin authenticity (docs/site-communication.md): holding one site's key is not enough to change a package anywhere.
/// A package comes only from its source site, only along the way down from it or up from below, signed by the
/// origin end to end; and a version never goes backwards.
@Suite(.timeLimit(.minutes(2))) struct SiteServerOrigin {
    /// P01 holds the keys of CEN, S01 and P02; S01 holds P01's (and CEN's only where a test imports it).
    static func makeSites() throws -> SiteFolderFixture {
        let sites = try SiteFolderFixture(SiteServerRefusal.yaml)
        for (receiver, senders) in [("P01", ["CEN", "S01", "P02"]), ("S01", ["P01"]), ("CEN", ["P01"])] {
            for sender in senders { try sites.exchangeKey(from: sender, to: receiver) }
        }
        return sites
    }

    /// Runs one pass of `site`'s server over its inbox and returns the reasons of what it refused, by job id.
    static func refusals(at site: String, _ sites: SiteFolderFixture) async throws -> [String: String] {
        do {
            let server = try SiteServerRefusal.server(site, sites)
            await server.processInbox()
        }
        // The next server of this site needs the lock this one held: a child process forked by another test at the
        // moment it closed may hold it until that child execs.
        let folders = try sites.folders(site)
        try await SiteServerRefusal.waitUntil("\(site)'s server has let go of its lock", timeout: .seconds(10)) {
            !SiteServerState.isRunning(folders)
        }
        var found: [String: String] = [:]
        for rejected in SiteStatus(folders: try sites.folders(site)).rejected {
            found[String(rejected.file.prefix { $0 != "." })] = rejected.code
        }
        return found
    }

    @Test func oneSitesKeyCannotReplaceAPackageAnywhere() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let s01Key = try sites.signingKey("S01")
        var expected: [String: String] = [:]
        // The review's attack: with S01's key, a job saying it comes from CEN, for CEN, handed to P01 by S01.
        expected[
            try sites.drop(
                into: "P01",
                signer: "S01",
                destination: "CEN",
                key: s01Key,
                origin: "CEN",
                originKey: s01Key
            )
        ] = "bad-origin"
        // The same, honest about its origin: S01 is not the package's source site.
        expected[
            try sites.drop(
                into: "P01",
                signer: "S01",
                destination: "CEN",
                key: s01Key,
                origin: "S01",
                originKey: s01Key
            )
        ] = "bad-origin"
        // From the right neighbour, with the right origin, but the origin signature made with another key.
        expected[
            try sites.drop(
                into: "P01",
                signer: "CEN",
                destination: "S01",
                key: try sites.signingKey("CEN"),
                originKey: s01Key
            )
        ] = "bad-origin"
        // No origin signature at all.
        expected[
            try sites.drop(
                into: "P01",
                signer: "CEN",
                destination: "S01",
                key: try sites.signingKey("CEN"),
                originUnsigned: true
            )
        ] = "bad-origin"
        let refused = try await Self.refusals(at: "P01", sites)
        #expect(refused == expected)
        let p01 = try sites.folders("P01")
        #expect(try FileManager.default.contentsOfDirectory(atPath: p01.outbox.path).isEmpty)
        #expect(SiteStatus(folders: p01).packages.isEmpty)
    }

    @Test func aParentIsTrustedForAnOriginOnlyWhenTheChildCannotCheckItItself() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let p01Key = try sites.signingKey("P01")
        // S01 cannot get CEN's key: it applies only what P01 vouches for under its own signature.
        let unvouched = try sites.drop(into: "S01", signer: "P01", destination: "S01", key: p01Key)
        let vouched = try sites.drop(
            into: "S01",
            signer: "P01",
            destination: "S01",
            key: p01Key,
            created: Date().addingTimeInterval(1)
        ) { $0.originVerified = true }
        #expect(try await Self.refusals(at: "S01", sites) == [unvouched: "bad-origin"])
        #expect(SiteStatus(folders: try sites.folders("S01")).packages.map(\.job) == [vouched])

        // Once S01 holds CEN's key (imported by hand: any site's key may be), P01's word no longer covers a forgery.
        try sites.exchangeKey(from: "CEN", to: "S01")
        let forged = try sites.drop(
            into: "S01",
            signer: "P01",
            destination: "S01",
            key: p01Key,
            originKey: p01Key,
            created: Date().addingTimeInterval(2),
            payload: Data(repeating: 9, count: 1000)
        ) { $0.originVerified = true }
        let refused = try await Self.refusals(at: "S01", sites)
        #expect(refused[forged] == "bad-origin")
        #expect(SiteStatus(folders: try sites.folders("S01")).packages.map(\.job) == [vouched])
    }

    /// The job `id` as it arrived in `site`'s inbox, verified with the key of the site that signed it.
    static func arrived(_ id: String, at site: String, _ sites: SiteFolderFixture) throws -> JobFile {
        let inbox = try sites.folders(site).inbox
        let name = try #require(try sites.inbox(site).first { $0.hasPrefix(id + ".") })
        let job = try JobFile.read(inbox.appendingPathComponent(name))
        try job.verify(with: try #require(sites.keys[job.header.signer]))
        try job.verifyPayload()
        return job
    }

    /// A forward is two steps, the record (handled, with the onward header) and the move of the copy into the
    /// outbox. Killed between them, the next pass finishes the move; an outbox copy whose onward header the
    /// database no longer has is checked again from the start. Either way S01 gets the job once, re-signed by P01.
    @Test func aForwardCutShortIsFinishedAndAForgottenOneIsCheckedAgain() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let p01 = try sites.folders("P01")
        let cenKey = try sites.signingKey("CEN")
        do {
            // Killed after the record: the copy is still in work/.
            let id = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: cenKey)
            let name = try #require(try sites.inbox("P01").first)
            try FileManager.default.moveItem(
                at: p01.inbox.appendingPathComponent(name),
                to: p01.work.appendingPathComponent(name)
            )
            let job = try JobFile.read(p01.work.appendingPathComponent(name))
            var onward = job.header
            onward.signer = try SiteCode("P01")
            onward.originVerified = true
            let database = try #require(try p01.openDatabase())
            let header = try JobFile.encodedHeader(onward, signedBy: try sites.signingKey("P01"))
            #expect(try database.markForwarded(id, header: header, signer: "CEN"))
            let server = try SiteServerRefusal.server("P01", sites)
            await server.runOnce()
            #expect(try Self.arrived(id, at: "S01", sites).header.signer.rawValue == "P01")
            #expect(try FileManager.default.contentsOfDirectory(atPath: p01.work.path).isEmpty)
            #expect(try database.forwardedHeader(id) == nil)
        }
        do {
            // An outbox copy without its onward header (the database lost it): checked and forwarded again.
            let id = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: cenKey)
            let name = try #require(try sites.inbox("P01").first)
            try FileManager.default.moveItem(
                at: p01.inbox.appendingPathComponent(name),
                to: p01.outbox.appendingPathComponent("\(id).job")
            )
            let server = try SiteServerRefusal.server("P01", sites)
            await server.runOnce()
            await server.runOnce()
            #expect(try Self.arrived(id, at: "S01", sites).header.signer.rawValue == "P01")
            #expect(try sites.inbox("S01").filter { $0.hasPrefix(id) }.count == 1)
        }
    }

    @Test func aForwardingSiteVouchesOnlyForWhatItChecked() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        // P01 holds CEN's key, so it checks the origin and says so to S01.
        let id = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: try sites.signingKey("CEN"))
        let p01 = try SiteServerRefusal.server("P01", sites)
        await p01.processInbox()
        // The copy that arrived waits in the outbox; what S01 receives is re-signed by P01.
        #expect(FileManager.default.fileExists(atPath: try sites.folders("P01").outbox.path + "/\(id).job"))
        await p01.runOnce()
        let forwarded = try Self.arrived(id, at: "S01", sites)
        #expect(forwarded.header.originVerified)
        #expect(forwarded.header.signer.rawValue == "P01")
        #expect(forwarded.header.origin.rawValue == "CEN")
    }

    @Test func aVersionNeverGoesBackwardsAndTheSameVersionIsNotAppliedTwice() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        try sites.exchangeKey(from: "CEN", to: "S01")
        let p01Key = try sites.signingKey("P01")
        let now = Date()
        let first = try sites.drop(into: "S01", signer: "P01", destination: "S01", key: p01Key, created: now)
        #expect(try await Self.refusals(at: "S01", sites).isEmpty)
        // The same version again under a new id: not placed again.
        _ = try sites.drop(into: "S01", signer: "P01", destination: "S01", key: p01Key, created: now)
        // Other content created before the version placed: refused, whatever its signatures.
        let older = try sites.drop(
            into: "S01",
            signer: "P01",
            destination: "S01",
            key: p01Key,
            created: now.addingTimeInterval(-3600),
            payload: Data(repeating: 1, count: 500)
        )
        #expect(try await Self.refusals(at: "S01", sites) == [older: "stale"])
        let s01 = try sites.folders("S01")
        #expect(SiteStatus(folders: s01).packages.map(\.job) == [first])
        #expect(SiteEvent.read(s01).filter { $0.event == "applied" }.count == 1)
        #expect(SiteEvent.read(s01).filter { $0.event == "duplicate" }.count == 1)
        // Newer content replaces it.
        let newer = try sites.drop(
            into: "S01",
            signer: "P01",
            destination: "S01",
            key: p01Key,
            created: now.addingTimeInterval(60),
            payload: Data(repeating: 2, count: 700)
        )
        #expect(try await Self.refusals(at: "S01", sites) == [older: "stale"])
        let placed = try #require(SiteStatus(folders: s01).packages.first)
        #expect(placed.job == newer)
        #expect(placed.bytes == 700)
    }
}

extension SiteServerOrigin {
    /// The refusal reasons the other suites do not reach: a key this site does not hold, a destination or package
    /// the hierarchy does not have.
    @Test func unknownKeysDestinationsAndPackagesAreRefusedWithTheirReasons() async throws {
        let sites = try SiteFolderFixture(SiteServerRefusal.yaml)
        defer { sites.remove() }
        // S01 holds no key at all: not even its parent's.
        let p01Key = try sites.signingKey("P01")
        var expected: [String: String] = [:]
        expected[try sites.drop(into: "S01", signer: "P01", destination: "S01", key: p01Key)] = "unknown-key"
        expected[
            try sites.drop(into: "S01", signer: "P01", destination: "S01", key: p01Key) {
                $0.destination = try! SiteCode("ZZZ")
            }
        ] = "unknown-destination"
        expected[
            try sites.drop(into: "S01", signer: "P01", destination: "S01", key: p01Key, package: "CEN0FFFF")
        ] = "unknown-package"
        #expect(try await Self.refusals(at: "S01", sites) == expected)
    }
}

extension SiteServerOrigin {
    /// Package status travels only up, from the site it speaks of, with what that site really has; an older status
    /// changes nothing.
    @Test func packageStatusIsCheckedLikeAnyJobAndAnOlderOneChangesNothing() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let s01Key = try sites.signingKey("S01")
        let now = Date()
        let genuine = try sites.dropStatus(
            into: "P01",
            signer: "S01",
            key: s01Key,
            origin: "S01",
            points: ["s01-dp.corp.contoso.com"],
            placedAt: now
        )
        var expected: [String: String] = [:]
        expected[try sites.dropStatus(into: "P01", signer: "S01", key: nil, origin: "S01", points: [])] = "unsigned"
        // From the parent: a status never comes down.
        expected[
            try sites.dropStatus(
                into: "P01",
                signer: "CEN",
                key: try sites.signingKey("CEN"),
                origin: "CEN",
                points: []
            )
        ] = "bad-origin"
        // S01 speaking for a site that is not below it.
        expected[
            try sites.dropStatus(into: "P01", signer: "S01", key: s01Key, origin: "P02", originKey: s01Key, points: [])
        ] = "bad-origin"
        // S01 claiming a distribution point that is not its own.
        expected[
            try sites.dropStatus(
                into: "P01",
                signer: "S01",
                key: s01Key,
                origin: "S01",
                points: ["p01-dp.corp.contoso.com"]
            )
        ] = "malformed"
        // A site below names which version exists, never which is current: a version the source did not sign, a
        // status without the source's word, one placed in the year 9999 (which would pin the version for ever), and
        // one placed before the source created the version are refused.
        let forged = "sha256:" + String(repeating: "ef", count: 32)
        expected[
            try sites.dropStatus(
                into: "P01",
                signer: "S01",
                key: s01Key,
                origin: "S01",
                version: forged,
                points: [],
                sourceSigner: "S01"
            )
        ] = "bad-origin"
        expected[
            try sites.dropStatus(into: "P01", signer: "S01", key: s01Key, origin: "S01", points: [], sourceSigner: nil)
        ] = "bad-origin"
        let year9999 = try #require(ISO8601DateFormatter().date(from: "9999-12-31T00:00:00Z"))
        expected[
            try sites.dropStatus(
                into: "P01",
                signer: "S01",
                key: s01Key,
                origin: "S01",
                points: [],
                placedAt: year9999,
                sourceCreated: now.addingTimeInterval(-10).rounded
            )
        ] = "bad-origin"
        expected[
            try sites.dropStatus(
                into: "P01",
                signer: "S01",
                key: s01Key,
                origin: "S01",
                points: [],
                placedAt: now.addingTimeInterval(-3600),
                sourceCreated: now.addingTimeInterval(-10).rounded
            )
        ] = "bad-origin"
        #expect(try await Self.refusals(at: "P01", sites) == expected)
        // The genuine one is recorded at P01 and goes on up, re-signed by P01.
        let p01 = try sites.folders("P01")
        let recorded = SiteStatus(folders: p01).below
        #expect(recorded.map(\.site) == ["S01"] && recorded.first?.distributionPoints == ["s01-dp.corp.contoso.com"])
        try await SiteServerRefusal.server("P01", sites).runOnce()
        let forwarded = try Self.arrived(genuine, at: "CEN", sites)
        #expect(forwarded.header.signer.rawValue == "P01" && forwarded.header.kind == .status)

        // An older status arriving late is accepted as a job but changes nothing.
        try sites.dropStatus(
            into: "P01",
            signer: "S01",
            key: s01Key,
            origin: "S01",
            version: "sha256:" + String(repeating: "cd", count: 32),
            points: [],
            placedAt: now.addingTimeInterval(-60),
            sourceCreated: now.addingTimeInterval(-120).rounded
        )
        #expect(try await Self.refusals(at: "P01", sites) == expected)
        #expect(SiteStatus(folders: p01).below == recorded)
        #expect(SiteEvent.read(p01).contains { $0.event == "status-old" })
    }
}

extension SiteServerOrigin {
    /// A package sent again with other content is a new version: it replaces the old one at every site as it
    /// arrives, and the status of every site reaches the top with it.
    @Test func aNewVersionReplacesTheOldOneEverywhereAndItsStatusReachesTheTop() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let servers = try ["CEN", "P01", "S01"].map { try SiteServerRefusal.server($0, sites) }
        let directory = sites.directory
        func versions() throws -> [String: String] {
            var found: [String: String] = [:]
            for site in ["P01", "S01"] {
                found[site] = SiteStatus(folders: try sites.folders(site)).packages.first?.version
            }
            for report in SiteStatus(folders: try sites.folders("CEN")).below {
                found["CEN knows \(report.site)"] = report.version
            }
            return found
        }
        try await SiteServer.running(servers) {
            for (round, byte) in [(1, UInt8(1)), (2, UInt8(2))] {
                try sites.send("CEN00001", bytes: 5_000 + round, byte: byte)
                let version = ContentLibrary.version(
                    sha256: try JobFile.digest(of: directory.appendingPathComponent("content-CEN00001.bin")).0
                )
                let expected = ["P01": version, "S01": version, "CEN knows P01": version, "CEN knows S01": version]
                try await SiteServerWaits.until("version \(round) is everywhere", watching: servers) {
                    try versions() == expected
                }
                #expect(try versions() == expected)
            }
        }
    }
}

extension Date {
    /// Whole seconds, as the fixture's ISO 8601 dates carry them.
    var rounded: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
