import ArgumentParser
import CLDAPBaseline
import DirectoryServing
import Foundation
import LDAPKit
import Logging
import SiteDirectory
import SiteLab
import SiteModel

/// Indexed equality searches per second through the wrapper, next to the same loops written against libldap's C
/// API, in one run against one lab directory. Numbers are ratios against that baseline, never absolute promises.
@main
struct SitelocBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siteloc-bench",
        abstract: "Benchmarks, each next to its baseline measured in the same run.",
        subcommands: [
            SearchBenchmark.self, PublishBenchmark.self, RangeBenchmark.self, LocateBenchmark.self,
            SMBHopBenchmark.self, ADSiteBenchmark.self,
            FanOutBenchmark.self, ContentServicesBenchmark.self, ReplicationBenchmark.self, StatusPageBenchmark.self,
        ],
        defaultSubcommand: SearchBenchmark.self
    )
}

struct SearchBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "The libldap wrapper against raw libldap on the same indexed searches."
    )

    @Option(help: "Site objects to load.")
    var entries = 10_000

    @Option(help: "Searches per measurement.")
    var searches = 20_000

    @Option(help: "Measurements of each kind; the median is reported.")
    var rounds = 5

    @Option(help: "Searches kept in flight on the one connection for the pipelined loops.")
    var window = 32

    @Option(help: "The connection's spin before sleeping, in microseconds (LDAPConnectionConfiguration).")
    var spin = 100

    @Option(help: "The lab folder (a fresh one is made and removed when not given).")
    var dir: String?

    func run() async throws {
        var logger = Logger(label: "siteloc-bench")
        logger.logLevel = .warning
        let folder =
            dir
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-bench-\(UUID().uuidString)").path
        let lab = Lab(directory: folder, logger: logger)
        let forest = try ForestName("corp.contoso.com")
        let layout = DirectoryLayout(forest: forest)
        try await lab.up(forests: [forest])
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: folder) } }
        do {
            try await measure(lab: lab, forest: forest, layout: layout, logger: logger)
        } catch {
            try await lab.down()
            throw error
        }
        try await lab.down()
    }

    private func measure(lab: Lab, forest: ForestName, layout: DirectoryLayout, logger: Logger) async throws {
        let codes = (0..<entries).map { Self.code($0) }
        let admin = try await lab.connect(to: forest, as: .admin)
        let loadStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<min(64, codes.count) {
                let code = codes[next]
                next += 1
                group.addTask { try await Self.addSite(code, layout: layout, admin: admin) }
            }
            while try await group.next() != nil, next < codes.count {
                let code = codes[next]
                next += 1
                group.addTask { try await Self.addSite(code, layout: layout, admin: admin) }
            }
        }
        let loadTime = ContinuousClock.now - loadStart
        await admin.close()

        var generator = SystemRandomNumberGenerator()
        let queries = (0..<4096).map { _ in codes[Int(generator.next(upperBound: UInt64(codes.count)))] }
        let filters = queries.map { LDAPFilter.equal("mSSMSSiteCode", $0) }
        let base = layout.systemManagement
        guard let directory = lab.forests().first(where: { $0.name == forest }) else { return }
        var configuration = try lab.access(for: directory, as: .anonymous).configuration()
        configuration.spinBeforeSleeping = .microseconds(spin)
        let connection = try await LDAPConnection.connect(configuration, logger: logger)

        print("siteloc-bench: \(entries) mSSMSSite entries loaded in \(format(loadTime)) through the wrapper")
        print(
            "  (window \(window), \(searches) searches per measurement, median of \(rounds) rounds, \(directory.uri))"
        )
        print("  query: subtree search under \(base) for (mSSMSSiteCode=<random code>), returning mSSMSSiteCode\n")

        var results: [String: [Double]] = [:]
        for _ in 0..<rounds {
            results["wrapper, one at a time", default: []].append(
                try await rate { try await self.wrapperSequential(connection, base: base, filters: filters) }
            )
            results["libldap, one at a time", default: []].append(
                try await rate { try self.cSequential(uri: directory.uri, base: base, filters: filters) }
            )
            results["wrapper, pipelined", default: []].append(
                try await rate { try await self.wrapperPipelined(connection, base: base, filters: filters) }
            )
            results["libldap, pipelined", default: []].append(
                try await rate { try self.cPipelined(uri: directory.uri, base: base, filters: filters) }
            )
        }
        await connection.close()

        func median(_ name: String) -> Double {
            let sorted = results[name, default: [0]].sorted()
            return sorted[sorted.count / 2]
        }
        for mode in ["one at a time", "pipelined"] {
            let wrapper = median("wrapper, \(mode)")
            let raw = median("libldap, \(mode)")
            print(
                "\(mode.padding(toLength: 14, withPad: " ", startingAt: 0))  wrapper \(Int(wrapper)) searches/s"
                    + "  raw libldap \(Int(raw)) searches/s  ratio \(String(format: "%.2f", wrapper / raw))"
            )
        }
    }

    private static func code(_ number: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String([alphabet[number / 1296 % 26], alphabet[number / 36 % 36], alphabet[number % 36]])
    }

    private static func addSite(_ code: String, layout: DirectoryLayout, admin: LDAPConnection) async throws {
        let dn = layout.systemManagement.child("cn", "SMS-Site-\(code)")
        try await admin.add(
            dn,
            attributes: [
                LDAPAttribute("objectClass", ["top", "mSSMSSite"]), LDAPAttribute("cn", "SMS-Site-\(code)"),
                LDAPAttribute("mSSMSSiteCode", code), LDAPAttribute("mSSMSRoamingBoundaries", ["Site-\(code)"]),
            ]
        )
    }

    /// Searches per second of one measurement.
    private func rate(_ body: () async throws -> Int) async throws -> Double {
        let start = ContinuousClock.now
        let found = try await body()
        let elapsed = ContinuousClock.now - start
        guard found == searches else { throw ValidationError("expected \(searches) entries, found \(found)") }
        return Double(searches) / elapsed.seconds
    }

    private func wrapperSequential(
        _ connection: LDAPConnection,
        base: DistinguishedName,
        filters: [LDAPFilter]
    )
        async throws -> Int
    {
        var found = 0
        for index in 0..<searches {
            let entries = try await connection.search(
                base: base,
                filter: filters[index % filters.count],
                attributes: ["mSSMSSiteCode"]
            )
            found += entries.count
        }
        return found
    }

    private func wrapperPipelined(
        _ connection: LDAPConnection,
        base: DistinguishedName,
        filters: [LDAPFilter]
    )
        async throws -> Int
    {
        try await withThrowingTaskGroup(of: Int.self) { group in
            var next = 0
            var found = 0
            func submit() {
                let filter = filters[next % filters.count]
                next += 1
                group.addTask {
                    try await connection.search(base: base, filter: filter, attributes: ["mSSMSSiteCode"]).count
                }
            }
            for _ in 0..<min(window, searches) { submit() }
            while let count = try await group.next() {
                found += count
                if next < searches { submit() }
            }
            return found
        }
    }

    private func cSequential(uri: String, base: DistinguishedName, filters: [LDAPFilter]) throws -> Int {
        try withCStrings(filters.map(\.string)) { pointers in
            cldap_baseline_sequential(uri, base.string, pointers, filters.count, "mSSMSSiteCode", searches)
        }
    }

    private func cPipelined(uri: String, base: DistinguishedName, filters: [LDAPFilter]) throws -> Int {
        try withCStrings(filters.map(\.string)) { pointers in
            cldap_baseline_pipelined(
                uri,
                base.string,
                pointers,
                filters.count,
                "mSSMSSiteCode",
                searches,
                Int32(window)
            )
        }
    }

    private func withCStrings(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Int) throws -> Int
    {
        let pointers = strings.map { UnsafePointer(strdup($0)) }
        defer { for pointer in pointers { free(UnsafeMutablePointer(mutating: pointer)) } }
        let result = pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
        guard result >= 0 else { throw ValidationError("the libldap baseline failed") }
        return result
    }

    private func format(_ duration: Duration) -> String {
        String(format: "%.2f s", duration.seconds)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
