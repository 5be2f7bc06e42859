import DirectoryServing
import Foundation
import Glibc
import LDAPKit
import SiteAssembly
import SiteDirectory
import SiteLocation
import SiteModel
import SiteTestKit
import Synchronization
import Testing

@testable import SiteLab

/// A lab forest of two multi-provider slapd (the same code path as `siteloc lab up --replicas 2`): a write at
/// either is read back at the other, `status` says when they are in sync, and a provider killed with -9 while the
/// other is written to catches up when `lab up` starts it again, to identical content and equal contextCSN.
@Suite(.timeLimit(.minutes(3))) struct Replication {
    @Test func twoProvidersReplicateBothWaysAndAKilledOneCatchesUp() async throws {
        try await Self.withLab(Self.replicateBothWaysAndCatchUp)
    }

    static func replicateBothWaysAndCatchUp(_ lab: Lab) async throws {
        let up = try await lab.up(forests: [TestLab.forest], replicas: 2)
        let forest = try #require(up.first?.forest)
        #expect(forest.servers.count == 2 && Set(forest.servers.map(\.port)).count == 2)
        let (first, second) = (forest.servers[0], forest.servers[1])

        // A write at the second provider is read at the first, and one at the first at the second.
        try await addMarker("written-at-2", at: second, of: forest)
        try await waitUntilVisible("written-at-2", at: first)
        try await addMarker("written-at-1", at: first, of: forest)
        try await waitUntilVisible("written-at-1", at: second)
        try await waitUntilInSync(lab)

        // Provider 2 killed; provider 1 written to meanwhile; `lab up` starts 2 again and it catches up.
        let killed = try #require(second.pid)
        kill(killed, SIGKILL)
        while ProcessControl.isAlive(killed) { try await Task.sleep(for: .milliseconds(5)) }
        let status = try #require(await lab.status().first)
        #expect(!status.inSync && status.servers[1].running == false)
        for index in 0..<20 { try await addMarker("while-2-was-down-\(index)", at: first, of: forest) }
        let restarted = try #require(try await lab.up(forests: []).first?.forest)
        try await waitUntilVisible("while-2-was-down-19", at: restarted.servers[1])
        try await waitUntilInSync(lab)
        let dumps = try await restarted.servers.asyncMap { try await dump($0, of: forest) }
        #expect(dumps[0] == dumps[1])
        #expect(dumps[0].count >= TestLab.layout.baseTree.count + 22)
        let synced = try #require(await lab.status().first)
        #expect(synced.servers[0].contextCSN == synced.servers[1].contextCSN && !synced.servers[0].contextCSN.isEmpty)

        let stopped = try await lab.down()
        #expect(stopped.count == 1)
        for server in restarted.servers { #expect(!ProcessControl.isAlive(server.pid ?? 0)) }
    }

    /// Provider 1 (where every write goes first) killed with -9 during a publish of 200 sites while clients keep
    /// locating: the publish completes through provider 2, every client gets the global answer, and once `lab up`
    /// starts provider 1 again both hold the same entries and the same contextCSN.
    @Test func aProviderKilledDuringAPublishLosesNothingAndNoClientIsMisled() async throws {
        try await Self.withLab(Self.killDuringPublish)
    }

    static func killDuringPublish(_ lab: Lab) async throws {
        let model = HierarchyGenerator.hierarchy(sites: 200, boundariesPerSite: 2, forest: TestLab.forest)
        try await lab.up(hierarchy: model, replicas: 2)
        let forest = try #require(lab.forests().first { $0.name == TestLab.forest })
        let connector = try lab.deployment(for: model).siteConnector(timeout: .seconds(2))
        let looked = model.sites[3]
        _ = try await Publisher.run(Array(model.sites.prefix(10)), in: model, connect: connector)
        try await waitUntilInSync(lab)

        // Clients locate an address of a site published before, over both URIs, all through the publish.
        let uris = try forest.uris.map { try LDAPURI($0) }
        guard case .subnet(let subnet) = looked.boundaries[0].value else { return }
        let client = ClientProfile(
            address: try ClientAddress("\(subnet.address)/\(subnet.prefixLength)"),
            assignedSite: model.sites[0].code,
            membership: .forest(TestLab.forest.rawValue)
        )
        let directory = LDAPSiteDirectoryClient(
            access: DirectoryAccess(uris: uris, timeout: .seconds(2)),
            layout: TestLab.layout,
            logger: TestLab.logger
        )
        let loop = ClientLoop()
        let killed = try #require(forest.servers[0].pid)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while loop.publishing.load(ordering: .relaxed) {
                    let answer = await directory.ask(client) { _ in }
                    let summary: String
                    switch answer {
                    case .answered(let matches, _, _): summary = matches.map(\.site.rawValue).joined(separator: ",")
                    case .unreachable(let why): summary = "unreachable: \(why)"
                    case .schemaNotExtended: summary = "schema not extended"
                    }
                    loop.answers.withLock { $0.append(summary) }
                }
            }
            let reports = try await Publisher.run(
                Array(model.sites.dropFirst(10)),
                in: model,
                concurrency: 4,
                connect: connector,
                progress: { done in if done == 30 { kill(killed, SIGKILL) } }
            )
            loop.publishing.store(false, ordering: .relaxed)
            try await group.waitForAll()
            #expect(reports.count == model.sites.count - 10)
        }
        #expect(!ProcessControl.isAlive(killed))
        let seen = loop.answers.withLock { $0 }
        #expect(seen.count > 10, "clients asked throughout")
        #expect(seen.allSatisfy { $0 == looked.code.rawValue }, "\(Set(seen))")

        // Every site is in provider 2; provider 1 started again catches up to the same content.
        let restarted = try #require(try await lab.up(forests: []).first { $0.forest.name == TestLab.forest }?.forest)
        try await waitUntilInSync(lab)
        let dumps = try await restarted.servers.asyncMap { try await dump($0, of: forest) }
        #expect(dumps[0] == dumps[1])
        let published = dumps[1].filter { $0.hasPrefix("cn=sms-site-") }
        #expect(published.count == model.sites.count, "every site's entry is there")
    }

    /// Two halves of a hierarchy published at once, one through each provider: nothing lost, the same content.
    @Test func publishingThroughBothProvidersAtOnceLosesNoWrite() async throws {
        try await Self.withLab(Self.publishThroughBoth)
    }

    static func publishThroughBoth(_ lab: Lab) async throws {
        let model = HierarchyGenerator.hierarchy(sites: 60, boundariesPerSite: 4, forest: TestLab.forest)
        try await lab.up(hierarchy: model, replicas: 2)
        let forest = try #require(lab.forests().first { $0.name == TestLab.forest })
        let halves = [Array(model.sites.prefix(30)), Array(model.sites.dropFirst(30))]
        try await withThrowingTaskGroup(of: Int.self) { group in
            for (half, server) in zip(halves, forest.servers) {
                let connector = try lab.deployment(for: model, directories: [try LDAPURI(server.uri)]).siteConnector()
                group.addTask { try await Publisher.run(half, in: model, connect: connector).count }
            }
            var published = 0
            for try await count in group { published += count }
            #expect(published == model.sites.count)
        }
        try await waitUntilInSync(lab)
        let dumps = try await forest.servers.asyncMap { try await dump($0, of: forest) }
        #expect(dumps[0] == dumps[1])
        #expect(dumps[0].filter { $0.hasPrefix("cn=sms-site-") }.count == model.sites.count)
        let objects = model.sites.reduce(0) { $0 + SitePublication.entries(for: $1, in: model).count }
        #expect(dumps[0].filter { $0.contains("cn=system management") }.count >= objects)
    }

    /// A lab in a folder of its own, brought down (every provider) and removed whatever `body` does.
    static func withLab(_ body: (Lab) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-replication-\(UUID())")
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try await body(lab)
        } catch {
            _ = try? await lab.down()
            throw error
        }
        _ = try await lab.down()
    }

    static func connection(_ server: LabServer, of forest: LabForest) async throws -> LDAPConnection {
        try await LDAPConnection.connect(
            forest.access(server: server, as: .admin).configuration(),
            logger: TestLab.logger
        )
    }

    static func addMarker(_ name: String, at server: LabServer, of forest: LabForest) async throws {
        let admin = try await connection(server, of: forest)
        try await admin.add(
            TestLab.layout.systemManagement.child("cn", name),
            attributes: [LDAPAttribute("objectClass", "container"), LDAPAttribute("cn", name)]
        )
        await admin.close()
    }

    static func waitUntilVisible(_ name: String, at server: LabServer) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let reader = try? await DirectoryAccess(uris: [try LDAPURI(server.uri)]).connect(logger: TestLab.logger)
            {
                let found = try? await reader.search(
                    base: TestLab.layout.systemManagement.child("cn", name),
                    scope: .base
                )
                await reader.close()
                if found?.count == 1 { return }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("\(name) did not reach \(server.uri) within 20 s")
    }

    static func waitUntilInSync(_ lab: Lab) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if await lab.status().first?.inSync == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the providers were not in sync within 20 s: \(await lab.status().first?.lag ?? "?")")
    }

    /// Every entry with its user attributes, as sorted text: what the providers must hold alike.
    static func dump(_ server: LabServer, of forest: LabForest) async throws -> [String] {
        let admin = try await connection(server, of: forest)
        let entries = try await admin.searchAllPages(base: try DistinguishedName(parsing: forest.suffix))
        await admin.close()
        return entries.map { entry in
            let attributes = entry.attributes.map { attribute in
                "\(attribute.name.lowercased())=\(attribute.values.map { String(decoding: $0, as: UTF8.self) }.sorted())"
            }.sorted()
            return "\(entry.dn.lowercased()) \(attributes.joined(separator: " "))"
        }.sorted()
    }
}

/// What the clients of a test saw while a publish ran.
final class ClientLoop: Sendable {
    let publishing = Atomic<Bool>(true)
    let answers = Mutex<[String]>([])
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
