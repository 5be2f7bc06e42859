import Foundation
import Glibc
import LDAPKit
import SiteDirectory
import SiteModel
import Testing

@testable import SiteLab

/// A lab forest of two multi-provider slapd (the same code path as `siteloc lab up --replicas 2`): a write at
/// either is read back at the other, `status` says when they are in sync, and a provider killed with -9 while the
/// other is written to catches up when `lab up` starts it again, to identical content and equal contextCSN.
@Suite(.timeLimit(.minutes(3))) struct Replication {
    @Test func twoProvidersReplicateBothWaysAndAKilledOneCatchesUp() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "siteloc-replication-\(UUID().uuidString)"
        )
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try await Self.replicateBothWaysAndCatchUp(lab)
        } catch {
            _ = try? await lab.down()
            throw error
        }
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

    static func connection(_ server: LabServer, of forest: LabForest) async throws -> LDAPConnection {
        try await LDAPConnection.connect(
            LDAPConnectionConfiguration(
                uris: [try LDAPURI(server.uri)],
                authentication: .simple(
                    dn: try DistinguishedName(parsing: forest.adminDN),
                    password: try Secret(contentsOf: URL(fileURLWithPath: forest.passwordFile))
                )
            ),
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
            if let reader = try? await LDAPConnection.connect(
                LDAPConnectionConfiguration(uris: [try LDAPURI(server.uri)]),
                logger: TestLab.logger
            ) {
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

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
