import Foundation
import SiteModel
import SiteRouting
import SiteServer
import Synchronization
import Testing

/// A running site server with an address whose sender is not installed here, then a courier address: the RAS
/// address fails with sender-not-installed, the courier substitutes for it and writes a parcel, and the parcel
/// taken in at the destination is verified and applied there.
@Suite(.timeLimit(.minutes(2))) struct SiteServerSenders {
    static let yaml = """
        version: 1
        forests:
          - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            addresses:
              - {to: P01, sender: asyncRas, priority: 1}
              - {to: P01, sender: courier, priority: 2}
              - {to: P01, sender: standard, priority: 3}
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            systems: [{host: p01-dp.corp.contoso.com, roles: [distributionPoint]}]
            addresses: [{to: CEN, sender: standard, priority: 1}]
        packages:
          - {id: CEN00001, sourceSite: CEN, distributionPoints: [p01-dp.corp.contoso.com]}
        """

    @Test func aSenderNotInstalledGivesWayToTheCourierWhoseParcelIsAppliedAtTheDestination() async throws {
        let sites = try SiteFolderFixture(Self.yaml)
        defer { sites.remove() }
        let cen = try sites.folders("CEN")
        let p01 = try sites.folders("P01")
        func server(_ folders: SiteFolders) throws -> SiteServer {
            try sites.server(
                folders.site.rawValue,
                directoryKeys: true,
                configure: { $0.retryDelay = .milliseconds(50) }
            )
        }
        let sent = try sites.send("CEN00001", bytes: 50_000, byte: 42)
        let job = try #require(sent.jobs.first)

        let sender = try server(cen)
        await sender.runOnce()  // asyncRas: sender-not-installed
        let state = SiteStatus(folders: cen).outbox.first?.state
        #expect(state?.failedAddresses == [1], "\(String(describing: state))")
        #expect(state?.status.contains("sender-not-installed") == true)
        await sender.runOnce()  // the courier substitutes at once, without waiting for a retry
        #expect(SiteStatus(folders: cen).outbox.isEmpty)
        let parcels = try FileManager.default.contentsOfDirectory(atPath: cen.courier.path).filter {
            $0.hasSuffix(".parcel")
        }
        #expect(parcels == ["\(job.id).to-P01.parcel"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: p01.inbox.path).isEmpty)

        let imported = try PackageSending.importParcel(cen.courier.appendingPathComponent(parcels[0]), into: p01)
        #expect(imported.id == job.id)
        await (try server(p01)).processInbox()
        let status = SiteStatus(folders: p01)
        #expect(status.rejected.isEmpty, "\(status.rejected)")
        #expect(status.packages.map(\.distributionPoints) == [["p01-dp.corp.contoso.com"]])
        // A parcel is a job like any other: taken in twice, it is applied once.
        _ = try PackageSending.importParcel(cen.courier.appendingPathComponent(parcels[0]), into: p01)
        await (try server(p01)).processInbox()
        #expect(SiteEvent.read(p01).filter { $0.event == "applied" }.count == 1)
        #expect(SiteEvent.read(p01).filter { $0.event == "duplicate" }.count == 1)
    }
}

extension SiteServerSenders {
    static let limitsYAML = """
        version: 1
        forests:
          - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            senderSettings: {maxConcurrentAllSites: 2, maxConcurrentPerSite: 1, retries: 2, retryDelayMinutes: 1}
            addresses:
              - {to: P01, sender: standard, priority: 1, rateLimit: {pulse: {blockKB: 16, delaySeconds: 1}}}
              - {to: P02, sender: standard, priority: 1, rateLimit: {pulse: {blockKB: 16, delaySeconds: 1}}}
              - {to: P03, sender: standard, priority: 1, rateLimit: {pulse: {blockKB: 16, delaySeconds: 1}}}
          - {code: P01, type: primary, parent: CEN, forest: corp.contoso.com, server: p01-ss.corp.contoso.com,
             systems: [{host: p01-dp.corp.contoso.com, roles: [distributionPoint]}],
             addresses: [{to: CEN, sender: standard, priority: 1}]}
          - {code: P02, type: primary, parent: CEN, forest: corp.contoso.com, server: p02-ss.corp.contoso.com,
             systems: [{host: p02-dp.corp.contoso.com, roles: [distributionPoint]}],
             addresses: [{to: CEN, sender: standard, priority: 1}]}
          - {code: P03, type: primary, parent: CEN, forest: corp.contoso.com, server: p03-ss.corp.contoso.com,
             systems: [{host: p03-dp.corp.contoso.com, roles: [distributionPoint]}],
             addresses: [{to: CEN, sender: standard, priority: 1}]}
        packages:
          - {id: CEN00001, sourceSite: CEN,
             distributionPoints: [p01-dp.corp.contoso.com, p02-dp.corp.contoso.com, p03-dp.corp.contoso.com]}
          - {id: CEN00002, sourceSite: CEN, distributionPoints: [p01-dp.corp.contoso.com]}
        """

    /// Three destinations, two packages for P01: never more than two deliveries at once, never two to one site.
    /// A sender is a type and one line of registration: a sender registered for the RAS address type (which has
    /// none here) carries the job — into P01's inbox folder — and the courier is never needed.
    @Test func aRegisteredSenderCarriesItsAddressTypesJobs() async throws {
        let sites = try SiteFolderFixture(Self.yaml)
        defer { sites.remove() }
        let cen = try sites.folders("CEN")
        let p01 = try sites.folders("P01")
        let sent = try sites.send("CEN00001", bytes: 50_000, byte: 42)
        let job = try #require(sent.jobs.first)
        let carried = CountingSender(inbox: p01.inbox)
        let sender = try sites.server("CEN", directoryKeys: true, configure: { $0.senders[.asyncRas] = carried })
        await sender.runOnce()
        #expect(carried.count.withLock { $0 } == 1)
        #expect(SiteStatus(folders: cen).outbox.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cen.courier.path).isEmpty)
        let delivered = Self.events(cen).filter { $0.contains("\"delivered\"") }
        #expect(delivered.count == 1 && delivered[0].contains("asyncRas"), "\(delivered)")
        try await sites.server("P01", directoryKeys: true).runOnce()
        #expect(SiteStatus(folders: p01).packages.map(\.package) == ["CEN00001"], "job \(job.id)")
    }

    static func events(_ folders: SiteFolders) -> [String] {
        ((try? String(contentsOf: folders.events, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func deliveriesStayWithinTheSitesConcurrencyLimits() async throws {
        let sites = try SiteFolderFixture(Self.limitsYAML)
        defer { sites.remove() }
        let directory = sites.directory
        // Two 16 KB blocks each: one pause of a second.
        try sites.send("CEN00001", bytes: 24_000, byte: 1)
        try sites.send("CEN00002", bytes: 24_000, byte: 1)
        let server = try sites.server("CEN", configure: { $0.pollInterval = .milliseconds(20) })
        try await SiteServer.running([server]) { try await Self.watchDeliveries(directory) }
    }

    static func watchDeliveries(_ directory: URL) async throws {
        var mostAtOnce = 0
        var mostToOneSite = 0
        let deadline = ContinuousClock.now + .seconds(30)
        var delivered: [String: Int] = [:]
        repeat {
            var inFlight = 0
            for site in ["P01", "P02", "P03"] {
                let names = try FileManager.default.contentsOfDirectory(
                    atPath: directory.appendingPathComponent("\(site)/inbox").path
                )
                let partial = names.count { $0.hasSuffix(".tmp") }
                delivered[site] = names.count { $0.hasSuffix(".job") }
                inFlight += partial
                mostToOneSite = max(mostToOneSite, partial)
            }
            mostAtOnce = max(mostAtOnce, inFlight)
            try await Task.sleep(for: .milliseconds(10))
        } while delivered.values.reduce(0, +) < 4 && ContinuousClock.now < deadline
        #expect(delivered == ["P01": 2, "P02": 1, "P03": 1])
        #expect(mostAtOnce == 2)
        #expect(mostToOneSite == 1)
    }
}

extension SiteServerSenders {
    /// A standard address whose inbox cannot be written: retried `retries` times with the retry delay between,
    /// then the next address (the courier) substitutes for it.
    @Test func aFailingAddressIsRetriedThenSubstituted() async throws {
        let yaml = Self.yaml.replacingOccurrences(
            of: "- {to: P01, sender: asyncRas, priority: 1}\n      - {to: P01, sender: courier, priority: 2}\n"
                + "      - {to: P01, sender: standard, priority: 3}",
            with: "- {to: P01, sender: standard, priority: 1}\n      - {to: P01, sender: courier, priority: 2}"
        )
        let sites = try SiteFolderFixture(yaml, initialize: ["CEN"])
        defer { sites.remove() }
        #expect(sites.hierarchy.site(try SiteCode("CEN"))?.addresses.map(\.sender) == [.standard, .courier])
        let cen = try sites.folders("CEN")
        try sites.send("CEN00001", bytes: 1000, byte: 3)
        let directory = sites.directory
        let server = try sites.server(
            "CEN",
            resolveInbox: { _, _ in .folder(directory.appendingPathComponent("no-such-inbox")) },
            configure: { $0.retryDelay = .milliseconds(200) }
        )
        var attempts: [Int] = []
        let started = ContinuousClock.now
        while !SiteStatus(folders: cen).outbox.isEmpty, ContinuousClock.now - started < .seconds(10) {
            if await server.runOnce(), let state = SiteStatus(folders: cen).outbox.first?.state {
                attempts.append(state.attempts)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Three tries of the standard address (the first and two retries), then the courier.
        #expect(attempts.prefix(3) == [1, 2, 0], "\(attempts)")
        #expect(SiteEvent.read(cen).filter { $0.event == "delivery-failed" }.count == 3)
        #expect(ContinuousClock.now - started >= .milliseconds(400), "two retry delays")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: cen.courier.path).count { $0.hasSuffix(".parcel") } == 1
        )
    }
}

extension SiteServerSenders {
    /// A link into another forest carries nothing until the keys have been exchanged by hand.
    @Test func aCrossForestLinkWithoutExchangedKeysIsRefused() async throws {
        let yaml = """
            version: 1
            forests:
              - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
              - {name: fabrikam.com, functionalLevel: windows2003, serverOS: windows2003}
            trusts: [{forests: [corp.contoso.com, fabrikam.com], type: forest, transitive: true, direction: twoWay}]
            sites:
              - {code: CEN, type: primary, forest: corp.contoso.com, server: cen-ss.corp.contoso.com,
                 addresses: [{to: P02, sender: standard, priority: 1}]}
              - {code: P02, type: primary, parent: CEN, forest: fabrikam.com, server: p02-ss.fabrikam.com,
                 systems: [{host: p02-dp.fabrikam.com, roles: [distributionPoint]}],
                 addresses: [{to: CEN, sender: standard, priority: 1}]}
            packages: [{id: CEN00001, sourceSite: CEN, distributionPoints: [p02-dp.fabrikam.com]}]
            """
        let sites = try SiteFolderFixture(yaml)
        defer { sites.remove() }
        let cen = try sites.folders("CEN")
        let p02 = try sites.folders("P02")
        try sites.send("CEN00001", bytes: 500, byte: 5)
        let server = try sites.server("CEN", configure: { $0.retryDelay = .zero })
        await server.runOnce()
        let held = try #require(SiteStatus(folders: cen).outbox.first)
        #expect(held.state.status.contains("keys have not been exchanged"), "\(held.state.status)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: p02.inbox.path).isEmpty)
        // Exchanged by hand: P02's key imported at CEN; the job goes.
        try sites.exchangeKey(from: "P02", to: "CEN")
        await server.runOnce()
        #expect(SiteStatus(folders: cen).outbox.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: p02.inbox.path).count { $0.hasSuffix(".job") } == 1)
    }
}

extension SiteServerSenders {
    /// A large delivered job leaves the outbox at once and its bytes are freed behind the delivery; a hidden
    /// `.sent.` file that a kill left before they were is removed when the server starts.
    @Test func aLargeDeliveredJobLeavesNothingInTheOutbox() async throws {
        let yaml = Self.yaml.replacingOccurrences(
            of: "- {to: P01, sender: asyncRas, priority: 1}\n"
                + "      - {to: P01, sender: courier, priority: 2}\n"
                + "      - {to: P01, sender: standard, priority: 3}",
            with: "- {to: P01, sender: standard, priority: 1}"
        )
        let sites = try SiteFolderFixture(yaml)
        defer { sites.remove() }
        let cen = try sites.folders("CEN")
        let p01 = try sites.folders("P01")
        try sites.send("CEN00001", bytes: 9 << 20, byte: 9)
        let server = try sites.server("CEN", directoryKeys: true)
        await server.runOnce()
        #expect(SiteStatus(folders: cen).outbox.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: p01.inbox.path).count { $0.hasSuffix(".job") } == 1)
        await server.settle()
        #expect(try FileManager.default.contentsOfDirectory(atPath: cen.outbox.path) == [])

        let leftover = cen.outbox.appendingPathComponent(".sent.CEN00001-P01-0123456789ab.job")
        try Data(repeating: 1, count: 1000).write(to: leftover)
        let kept = cen.outbox.appendingPathComponent(".other.tmp")
        try Data().write(to: kept)
        try await SiteServer.running([server]) {
            let deadline = ContinuousClock.now + .seconds(10)
            while FileManager.default.fileExists(atPath: leftover.path), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(!FileManager.default.fileExists(atPath: leftover.path))
        #expect(FileManager.default.fileExists(atPath: kept.path), "only what a delivery left is removed")
    }
}

/// A sender of a test's own: the job's file as it is, into a folder, counted.
final class CountingSender: JobSender {
    let inbox: URL
    let count = Mutex(0)

    init(inbox: URL) { self.inbox = inbox }

    func deliver(_ delivery: JobDelivery) async throws -> String {
        count.withLock { $0 += 1 }
        let section = delivery.section
        var bytes = section.prefix
        let file = try FileHandle(forReadingFrom: section.file)
        defer { try? file.close() }
        try file.seek(toOffset: section.offset)
        bytes += try file.readToEnd() ?? Data()
        let target = inbox.appendingPathComponent("\(delivery.job.header.id).\(delivery.job.header.signer).job")
        try bytes.write(to: target, options: .withoutOverwriting)
        return target.path
    }
}
