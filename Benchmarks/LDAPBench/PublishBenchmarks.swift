import ArgumentParser
import DirectoryServing
import Foundation
import LDAPKit
import Logging
import SiteAssembly
import SiteDirectory
import SiteLab
import SiteModel
import SiteTestKit

/// A fresh lab in a temporary folder, provisioned from `hierarchy`, brought down and removed afterwards.
func withBenchLab<T>(_ hierarchy: Hierarchy, replicas: Int = 1, _ body: (Lab) async throws -> T) async throws -> T {
    var logger = Logger(label: "siteloc-bench")
    logger.logLevel = .warning
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-bench-\(UUID().uuidString)")
        .path
    let lab = Lab(directory: folder, logger: logger)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try await lab.up(hierarchy: hierarchy, replicas: replicas)
    do {
        let result = try await body(lab)
        try await lab.down()
        return result
    } catch {
        _ = try? await lab.down()
        throw error
    }
}

/// The middle value of a benchmark's measurements (the upper one of an even count).
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    return (ContinuousClock.now - start).seconds
}

struct PublishBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publishing a generated hierarchy against ldapadd loading its --dry-run LDIF, each into an empty lab."
    )

    @Option(help: "Sites in the generated hierarchy.")
    var sites = 1000

    @Option(help: "Boundaries per site.")
    var boundaries = 20

    @Option(help: "Sites published at once.")
    var concurrency = 8

    func run() async throws {
        let hierarchy = HierarchyGenerator.hierarchy(sites: sites, boundariesPerSite: boundaries)
        let objects = hierarchy.sites.reduce(0) { $0 + SitePublication.entries(for: $1, in: hierarchy).count }
        print("siteloc-bench publish: \(sites) sites, \(boundaries) boundaries each, \(objects) objects")

        var ldif = ""
        let published = try await withBenchLab(hierarchy) { lab in
            let connector = try lab.deployment(for: hierarchy).siteConnector()
            let plan = try await Publisher.run(hierarchy.sites, in: hierarchy, dryRun: true, connect: connector)
            ldif = plan.map { LDIFWriter.ldif($0.changes) }.joined(separator: "\n")
            return try await seconds {
                _ = try await Publisher.run(
                    hierarchy.sites,
                    in: hierarchy,
                    concurrency: concurrency,
                    connect: connector
                )
            }
        }
        let loaded = try await withBenchLab(hierarchy) { lab in
            guard let forest = lab.forests().first else { throw ValidationError("no lab forest") }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                "siteloc-bench-\(UUID().uuidString).ldif"
            )
            try ldif.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            return try await seconds {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/ldapadd")
                process.arguments = [
                    "-x", "-H", forest.uri, "-D", forest.adminDN, "-y", forest.passwordFile, "-f", file.path,
                ]
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                process.waitUntilExit()
                guard process.terminationStatus == 0 else { throw ValidationError("ldapadd failed") }
            }
        }
        let publishRate = Double(objects) / published
        let ldapaddRate = Double(objects) / loaded
        print(
            "siteloc publish \(Int(publishRate)) objects/s (\(String(format: "%.2f", published)) s, each site as its own identity, "
                + "\(concurrency) sites at once)"
        )
        print(
            "ldapadd         \(Int(ldapaddRate)) objects/s (\(String(format: "%.2f", loaded)) s, the same LDIF as the admin)"
        )
        print("ratio \(String(format: "%.2f", publishRate / ldapaddRate))")
    }
}

struct RangeBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ranges",
        abstract: "Range lookups through the CIDR blocks against the two-sided ordering filter, on the same lab."
    )

    @Option(help: "Published ranges.")
    var ranges = 100_000

    @Option(help: "Lookups through the blocks.")
    var lookups = 5000

    @Option(help: "Seconds to spend on the ordering filter at most.")
    var orderingSeconds = 20.0

    func run() async throws {
        let forest = try ForestName("corp.contoso.com")
        let hierarchy = HierarchyGenerator.hierarchy(sites: 1, boundariesPerSite: 1, forest: forest)
        let code = hierarchy.sites[0].code
        let layout = DirectoryLayout(forest: forest)
        // Ranges of 201 addresses, one every 256, from 10.0.0.0 up.
        let all = (0..<ranges).map { index -> IPv4Range in
            let base = UInt32(10 << 24) + UInt32(index) * 256
            return IPv4Range(low: IPv4Address(base + 20), high: IPv4Address(base + 220))!
        }
        try await withBenchLab(hierarchy) { lab in
            let admin = try await lab.connect(to: forest, as: .admin)
            let load = try await seconds {
                let site = Site(
                    code: code,
                    type: .primary,
                    forest: forest,
                    server: "x",
                    boundaries: all.map { Boundary(.range($0)) }
                )
                let entries = SitePublication.entries(for: site, in: Hierarchy(sites: [site])).filter {
                    $0.dn.rdns[0].value.hasPrefix("SMS-\(code)-")
                }
                try await ChangeApplier.apply(entries.map { .add($0) }, on: admin, window: 256)
            }
            await admin.close()
            print("siteloc-bench ranges: \(ranges) ranges published in \(String(format: "%.1f", load)) s")

            let reader = try await lab.connect(to: forest, as: .anonymous)
            var generator = SystemRandomNumberGenerator()
            func probe() -> IPv4Address {
                let range = all[Int(generator.next(upperBound: UInt64(all.count)))]
                return IPv4Address(range.low.value + UInt32(generator.next(upperBound: UInt64(range.span))))
            }
            let base = layout.systemManagement
            var blockTime = 0.0
            for _ in 0..<lookups {
                let address = probe()
                blockTime += try await seconds {
                    let found = try await reader.search(
                        base: base,
                        filter: BoundaryLookup.rangeFilter(for: address),
                        attributes: ["1.1"]
                    )
                    guard found.count == 1 else { throw ValidationError("\(address): \(found.count) ranges") }
                }
            }
            var orderingTime = 0.0
            var orderingLookups = 0
            while orderingTime < orderingSeconds && orderingLookups < lookups {
                let address = probe()
                orderingTime += try await seconds {
                    let found = try await reader.search(
                        base: base,
                        filter: BoundaryLookup.orderingRangeFilter(for: address),
                        attributes: ["1.1"]
                    )
                    guard found.count == 1 else { throw ValidationError("\(address): \(found.count) ranges") }
                }
                orderingLookups += 1
            }
            await reader.close()
            let blocks = Double(lookups) / blockTime
            let ordering = Double(orderingLookups) / orderingTime
            print("CIDR blocks (equality)   \(String(format: "%.1f", blocks)) lookups/s (\(lookups) lookups)")
            print("ordering filter (<=, >=) \(String(format: "%.2f", ordering)) lookups/s (\(orderingLookups) lookups)")
            print("ratio \(String(format: "%.0f", blocks / ordering))")
        }
    }
}
