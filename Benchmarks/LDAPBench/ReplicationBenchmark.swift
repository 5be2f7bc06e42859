import ArgumentParser
import DirectoryServing
import Foundation
import LDAPKit
import Logging
import SiteAssembly
import SiteDirectory
import SiteLab
import SiteLocation
import SiteModel
import SiteTestKit
import Synchronization

/// A forest of two multi-provider slapd against one, in the same run: how long a write acknowledged at provider A
/// takes to be visible at provider B while 1,000 sites are published through A; publish time into two providers
/// against one; and the time to a global answer when the forest's first URI is dead (refused, silent) against a
/// live first URI.
struct ReplicationBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replication",
        abstract: "Replication delay under publishing load, publish into two providers against one, failover time."
    )

    @Option(help: "Sites in the generated hierarchy.")
    var sites = 1000

    @Option(help: "Boundaries per site.")
    var boundaries = 5

    @Option(help: "Locate resolutions per failover measurement.")
    var resolutions = 20

    func run() async throws {
        let hierarchy = HierarchyGenerator.hierarchy(sites: sites, boundariesPerSite: boundaries)
        let forestName = hierarchy.forests[0].name
        let layout = DirectoryLayout(forest: forestName)
        print("siteloc-bench replication: \(sites) sites, \(boundaries) boundaries each")

        let single = try await withBenchLab(hierarchy, replicas: 1) { lab in
            try await seconds {
                _ = try await Publisher.run(
                    hierarchy.sites,
                    in: hierarchy,
                    connect: try lab.deployment(for: hierarchy).siteConnector()
                )
            }
        }
        var delays: [Double] = []
        var failover: [(String, Double)] = []
        let double = try await withBenchLab(hierarchy, replicas: 2) { lab -> Double in
            guard let forest = lab.forests().first else { throw ValidationError("no lab forest") }
            let (a, b) = (forest.servers[0], forest.servers[1])
            let throughA = try lab.deployment(for: hierarchy, directories: [try LDAPURI(a.uri)]).siteConnector()
            let probe = DelayProbe()
            let took = try await withThrowingTaskGroup(of: Double?.self) { group in
                group.addTask {
                    try await probe.run(from: a, to: b, forest: forest, layout: layout)
                    return nil
                }
                let took = try await seconds {
                    _ = try await Publisher.run(hierarchy.sites, in: hierarchy, connect: throughA)
                }
                probe.stop()
                try await group.waitForAll()
                return took
            }
            delays = probe.delays.withLock { $0 }.sorted()

            // Failover: the same lookup with the first URI live, refused, silent.
            let silent = try SilentListener()
            let closed = try SilentListener.closedPort()
            guard case .subnet(let subnet) = hierarchy.sites[sites / 2].boundaries[0].value else { return took }
            let client = ClientProfile(
                address: try ClientAddress("\(subnet.address)/\(subnet.prefixLength)"),
                assignedSite: hierarchy.sites[0].code,
                membership: .forest(forestName.rawValue)
            )
            var logger = Logger(label: "siteloc-bench")
            logger.logLevel = .error
            for (name, first) in [
                ("live", a.uri), ("refused", "ldap://127.0.0.1:\(closed)"),
                ("silent", "ldap://127.0.0.1:\(silent.port)"),
            ] {
                let uris = (name == "live" ? [a.uri, b.uri] : [first, b.uri]).compactMap { try? LDAPURI($0) }
                let directory = LDAPSiteDirectoryClient(
                    access: DirectoryAccess(uris: uris, timeout: .seconds(2)),
                    layout: layout,
                    logger: logger
                )
                var times: [Double] = []
                for _ in 0..<resolutions {
                    let started = ContinuousClock.now
                    let answer = await directory.ask(client) { _ in }
                    times.append((ContinuousClock.now - started).seconds)
                    guard case .answered(let matches, _, _) = answer, !matches.isEmpty else {
                        throw ValidationError("no global answer with a \(name) first URI: \(answer)")
                    }
                }
                failover.append((name, times.sorted()[times.count / 2]))
            }
            return took
        }

        func milliseconds(_ value: Double) -> String { String(format: "%.1f ms", value * 1000) }
        let median = delays.isEmpty ? 0 : delays[delays.count / 2]
        let p99 = delays.isEmpty ? 0 : delays[min(delays.count - 1, Int(Double(delays.count) * 0.99))]
        print(
            "replication delay, A to B, while publishing \(sites) sites through A: median \(milliseconds(median)),"
                + " p99 \(milliseconds(p99)), max \(milliseconds(delays.last ?? 0)) (\(delays.count) probes)"
        )
        print(
            String(
                format: "publish %d sites: into two providers %.2f s, into one %.2f s, ratio %.2f",
                sites,
                double,
                single,
                single / double
            )
        )
        let live = failover.first { $0.0 == "live" }?.1 ?? 0
        for (name, time) in failover {
            print(
                "global answer with a \(name) first URI: median \(milliseconds(time))"
                    + (name == "live" ? "" : " (\(milliseconds(time - live)) more than a live first URI)")
            )
        }
    }
}

/// Writes an entry at A, then reads B until it is there, over and over; keeps each delay from A's
/// acknowledgement to B's answer.
final class DelayProbe: Sendable {
    let delays = Mutex<[Double]>([])
    private let running = Atomic<Bool>(true)

    func stop() { running.store(false, ordering: .relaxed) }

    func run(from a: LabServer, to b: LabServer, forest: LabForest, layout: DirectoryLayout) async throws {
        var logger = Logger(label: "siteloc-bench")
        logger.logLevel = .error
        let admin = try await LDAPConnection.connect(
            forest.access(server: a, as: .admin).configuration(),
            logger: logger
        )
        let reader = try await LDAPConnection.connect(
            forest.access(server: b, as: .anonymous).configuration(),
            logger: logger
        )
        var number = 0
        while running.load(ordering: .relaxed) {
            number += 1
            let dn = layout.systemManagement.child("cn", "delay-probe-\(number)")
            try await admin.add(
                dn,
                attributes: [LDAPAttribute("objectClass", "container"), LDAPAttribute("cn", "delay-probe-\(number)")]
            )
            let written = ContinuousClock.now
            let limit = written + .seconds(30)
            while ContinuousClock.now < limit {
                if (try? await reader.search(base: dn, scope: .base))?.count == 1 { break }
                try await Task.sleep(for: .milliseconds(1))
            }
            let delay = (ContinuousClock.now - written).seconds
            delays.withLock { $0.append(delay) }
            try await Task.sleep(for: .milliseconds(20))
        }
        await admin.close()
        await reader.close()
    }
}
