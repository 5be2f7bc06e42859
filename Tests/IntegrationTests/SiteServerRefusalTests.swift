import Foundation
import SiteDatabase
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

    /// Site folders with keys for CEN, P01, S01 and P02; P01 holds the keys of all three others (so P02's job is
    /// refused for not being a neighbour, not for a missing key).
    static func makeSites() throws -> SiteFolderFixture {
        let sites = try SiteFolderFixture(yaml)
        for (receiver, senders) in [("P01", ["CEN", "S01", "P02"]), ("S01", ["P01"]), ("CEN", ["P01"])] {
            for sender in senders { try sites.exchangeKey(from: sender, to: receiver) }
        }
        return sites
    }

    static func server(_ code: String, _ sites: SiteFolderFixture) throws -> SiteServer {
        try sites.server(
            code,
            configure: {
                $0.pollInterval = .milliseconds(20)
                $0.retryDelay = .milliseconds(100)
            }
        )
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
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let p01 = try Self.server("P01", sites)
        try await SiteServer.running([p01]) { try await Self.refuseWhatMustNotBeTrusted(sites, at: p01) }
    }

    /// A server in this process reports each event as it is logged, and `idle` after each stretch of work, only after
    /// the work's own events.
    @Test func aServerReportsItsEventsAndIdleOnceAfterWork() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let p01 = try Self.server("P01", sites)
        let events = p01.activity.stream()
        let collected = try await SiteServer.running([p01]) { () async throws -> [String] in
            var names: [String] = []
            var iterator = events.makeAsyncIterator()
            // Started, then idle: nothing has arrived yet.
            while let event = await iterator.next() {
                names.append(event.event)
                if event.event == SiteServerEvents.idle { break }
            }
            let good = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: try sites.signingKey("CEN"))
            let bad = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: nil)
            var job: [String: String] = [:]
            while let event = await iterator.next() {
                names.append(event.event)
                if let id = event.job { job[id] = event.event }
                if event.event == SiteServerEvents.idle, job.count == 2 { break }
            }
            #expect(job[good] == "delivered" && job[bad] == "rejected", "\(job)")
            // New work after idle: its events come first, then one `idle` again (that passes with nothing to do
            // report nothing is WorkStateTests', without a clock).
            let third = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: try sites.signingKey("CEN"))
            let next = await iterator.next()
            #expect(next?.job == third, "\(String(describing: next))")
            names.append(next?.event ?? "")
            while let event = await iterator.next() {
                names.append(event.event)
                if event.event == SiteServerEvents.idle { break }
            }
            return names
        }
        #expect(collected.first == "started")
        #expect(collected.filter { $0 == SiteServerEvents.idle }.count == 3, "\(collected)")
        #expect(collected.last == SiteServerEvents.idle)
        #expect(collected.contains("delivered") && collected.contains("rejected"))
        // The log on disk has the same events, but never `idle`.
        let logged = SiteEvent.read(try sites.folders("P01")).map(\.event)
        #expect(!logged.contains(SiteServerEvents.idle))
        #expect(logged.starts(with: collected.filter { $0 != SiteServerEvents.idle }), "\(logged)")
    }

    static func refuseWhatMustNotBeTrusted(_ sites: SiteFolderFixture, at p01: SiteServer) async throws {
        // Four jobs for S01 that P01 must not forward, one for P01 itself it must not apply, and one good job.
        var expected: [String: JobRejection.Code] = [:]
        expected[try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: nil)] = .unsigned
        expected[try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: try sites.signingKey("S01"))] =
            .badSignature
        expected[
            try sites.drop(
                into: "P01",
                signer: "CEN",
                destination: "P01",
                key: try sites.signingKey("CEN"),
                alter: true
            )
        ] =
            .altered
        expected[try sites.drop(into: "P01", signer: "P02", destination: "S01", key: try sites.signingKey("P02"))] =
            .notNeighbour
        let good = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: try sites.signingKey("CEN"))

        let p01Folders = try sites.folders("P01")
        let s01Folders = try sites.folders("S01")
        try await SiteServerWaits.until("four jobs are rejected and the good one is delivered to S01", watching: [p01])
        {
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
        let handled = try #require(try p01Folders.openDatabase(readOnly: true)).handledJobs()
        #expect(handled == [good])
        #expect(SiteEvent.read(p01Folders).filter { $0.event == "rejected" }.count == 4)
        // The forwarded copy is re-signed by P01, and S01 (which holds only P01's key) accepts it.
        let forwarded = try JobFile.read(s01Folders.inbox.appendingPathComponent(try #require(delivered.first)))
        #expect(forwarded.header.signer.rawValue == "P01")
        let s01 = try Self.server("S01", sites)
        await s01.processInbox()
        #expect(SiteStatus(folders: s01Folders).packages.map(\.distributionPoints) == [["s01-dp.corp.contoso.com"]])
        #expect(SiteStatus(folders: s01Folders).rejected.isEmpty)
    }

    /// A neighbour sending junk cannot fill the disk or slow the status page (hostile review finding 7): of a
    /// refused job only its head is kept, only the newest `RejectedJobs.kept` stay, and the total is counted.
    @Test func refusedJobsKeepOnlyTheirHeadsAndOnlyTheNewestStay() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let p01 = try Self.server("P01", sites)
        let folders = try sites.folders("P01")
        let big = try sites.drop(
            into: "P01",
            signer: "CEN",
            destination: "S01",
            key: nil,
            payload: Data(repeating: 1, count: 8 << 20)
        )
        await p01.processInbox()
        let kept = try #require(
            try FileManager.default.contentsOfDirectory(atPath: folders.rejected.path).first {
                $0.hasPrefix(big) && $0.hasSuffix(".job")
            }
        )
        let head = try Data(contentsOf: folders.rejected.appendingPathComponent(kept))
        #expect(head.count < 64 * 1024, "the 8 MiB payload was kept")
        #expect(try JobFile.read(folders.rejected.appendingPathComponent(kept)).header.payloadBytes == 8 << 20)

        let more = RejectedJobs.kept + 29
        for _ in 0..<more {
            try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: nil, payload: Data(count: 10))
        }
        await p01.processInbox()
        let status = SiteStatus(folders: folders)
        #expect(status.rejected.count == RejectedJobs.kept)
        #expect(status.rejectedTotal == more + 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: folders.rejected.path)
        #expect(files.count == 2 * RejectedJobs.kept, "each kept job has its reason, nothing else stays")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folders.inbox.path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folders.work.path).isEmpty)
    }

    @Test func aSecondServerForTheSameSiteIsRefused() throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let first = try Self.server("P01", sites)
        #expect(throws: SiteServerError.self) { _ = try Self.server("P01", sites) }
        _ = first
    }
}

extension SiteServerRefusal {
    /// `siteloc send package` stores content at the source site from another process, at any time: a site server
    /// starting meanwhile leaves its half-written file alone (its writer holds a lock), and removes one whose
    /// writer died (a kill leaves it unlocked).
    @Test func aStartingServerRemovesOnlyContentNobodyIsWriting() async throws {
        let sites = try Self.makeSites()
        defer { sites.remove() }
        let folders = try sites.folders("CEN")
        let package = folders.package("CEN00001")
        try FileManager.default.createDirectory(at: package, withIntermediateDirectories: true)
        let writing = package.appendingPathComponent(".content.writing.tmp")
        let abandoned = package.appendingPathComponent(".content.abandoned.tmp")
        for file in [writing, abandoned] { try Data(count: 10).write(to: file) }
        let writer = try FileHandle(forWritingTo: writing)
        defer { try? writer.close() }
        #expect(flock(writer.fileDescriptor, LOCK_EX) == 0)
        let cen = try Self.server("CEN", sites)
        try await SiteServer.running([cen]) {
            try await SiteServerWaits.until("the abandoned file is removed", watching: [cen]) {
                !FileManager.default.fileExists(atPath: abandoned.path)
            }
        }
        #expect(FileManager.default.fileExists(atPath: writing.path), "a file being written was removed")
    }
}
