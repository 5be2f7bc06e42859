import ArgumentParser
import Foundation
import LDAPKit
import Logging
import SiteAssembly
import SiteDirectory
import SiteLab
import SiteLocation
import SiteModel

/// How a client learns its AD site at 10,000 subnet objects: one search naming every prefix of its address
/// against reading every subnet, and a whole global locate that learns the site against one that is given it.
struct ADSiteBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adsite",
        abstract: "AD-site resolution from subnet objects: one indexed search vs reading all; locate learning vs given."
    )

    @Option(help: "Subnet objects (each a /24), spread over AD sites of 100 subnets.")
    var subnets = 10_000

    @Option(help: "Resolutions per measurement.")
    var resolutions = 500

    @Option(help: "Measurements of each kind; the median is reported.")
    var rounds = 3

    func run() async throws {
        let forest = try ForestName("corp.contoso.com")
        let sites = (0..<(subnets + 99) / 100).map { site in
            ADSite(
                name: "Site-\(site)",
                subnets: (0..<min(100, subnets - site * 100)).map { index in
                    let number = site * 100 + index
                    return .ipv4(
                        IPv4Network(
                            address: IPv4Address(
                                UInt32(10) << 24 | UInt32(number / 256) << 16 | UInt32(number % 256) << 8
                            ),
                            prefixLength: 24
                        )
                    )
                }
            )
        }
        var model = Hierarchy()
        model.forests = [Forest(name: forest, functionalLevel: .windows2003, serverOS: .windows2003, adSites: sites)]
        model.sites = [
            Site(
                code: try SiteCode("CEN"),
                type: .primary,
                forest: forest,
                server: "cen-ss.corp.contoso.com",
                boundaries: [Boundary(.adSite("Site-7"))],
                systems: [SiteSystem(host: "cen-mp.corp.contoso.com", roles: [.managementPoint])]
            )
        ]
        try await withBenchLab(model) { lab in
            _ = try await Publisher.run(model.sites, in: model, connect: try lab.deployment(for: model).siteConnector())
            guard let uri = lab.forests().first(where: { $0.name == forest })?.uri else { return }
            try await measure(model: model, uri: try LDAPURI(uri), layout: DirectoryLayout(forest: forest))
        }
    }

    private func measure(model: Hierarchy, uri: LDAPURI, layout: DirectoryLayout) async throws {
        var logger = Logger(label: "siteloc-bench")
        logger.logLevel = .warning
        let (rounds, subnets) = (rounds, subnets)
        // Addresses in the subnets, and one in ten outside every subnet.
        var generator = SystemRandomNumberGenerator()
        let addresses = try (0..<resolutions).map { index -> ClientAddress in
            let number = Int.random(in: 0..<subnets, using: &generator)
            let outside = index % 10 == 9
            let address = "\(outside ? 11 : 10).\(number / 256).\(number % 256).\(Int.random(in: 1...254))/24"
            return try ClientAddress(address)
        }
        let access = DirectoryAccess(uris: [uri], operationTimeout: .seconds(30))
        // The two ways of asking, each checked against the rule on the same answers first.
        let (indexed, readAll, entriesRead, pages) = try await access.withSession(logger: logger) { session in
            // An anonymous client may read 500 entries a search (slapd's default limit, as AD's MaxPageSize is
            // 1,000): reading every subnet object takes pages.
            func readEverySubnet() throws -> [LDAPEntry] {
                try session.searchAllPages(ADSiteLookup.readAllRequest(in: layout))
            }
            let all = try readEverySubnet()
            let pages = (all.count + 499) / 500
            guard all.count == subnets else { throw ValidationError("\(all.count) subnet objects, not \(subnets)") }
            for address in addresses.prefix(50) {
                guard
                    try ADSiteLookup.site(of: address, in: layout, in: session)
                        == ADSiteLookup.decide(address, among: all)
                else { throw ValidationError("the two ways disagree on \(address)") }
            }
            var indexed: [Double] = []
            var readAll: [Double] = []
            for _ in 0..<rounds {
                var started = ContinuousClock.now
                for address in addresses { _ = try ADSiteLookup.site(of: address, in: layout, in: session) }
                indexed.append((ContinuousClock.now - started).seconds / Double(addresses.count))
                started = ContinuousClock.now
                for address in addresses.prefix(max(1, addresses.count / 10)) {
                    _ = ADSiteLookup.decide(address, among: try readEverySubnet())
                }
                readAll.append((ContinuousClock.now - started).seconds / Double(max(1, addresses.count / 10)))
            }
            return (indexed, readAll, all.count, pages)
        }

        let directory = LDAPSiteDirectoryClient(
            access: DirectoryAccess(uris: [uri], timeout: .seconds(5)),
            layout: layout,
            logger: logger
        )
        let locator = Locator(hierarchy: model) { _ in directory }
        func locate(given: Bool) async throws -> Double {
            let started = ContinuousClock.now
            for address in addresses {
                _ = try await locator.locate(
                    ClientProfile(
                        address: address,
                        assignedSite: try SiteCode("CEN"),
                        membership: .forest("corp.contoso.com"),
                        adSite: given ? "Site-7" : nil
                    )
                )
            }
            return (ContinuousClock.now - started).seconds / Double(addresses.count)
        }
        var learning: [Double] = []
        var given: [Double] = []
        for _ in 0..<rounds {
            learning.append(try await locate(given: false))
            given.append(try await locate(given: true))
        }
        let ms = { (value: Double) in String(format: "%.3f ms", value * 1000) }
        print(
            "\(entriesRead) subnet objects in \(subnets / 100) AD sites; \(addresses.count) addresses, median of \(rounds)"
        )
        print(
            "AD-site lookup, one search naming the address's 33 prefixes: \(ms(median(indexed))) per resolution"
                + " (1 search, at most 33 entries back)"
        )
        print(
            "AD-site lookup, reading every subnet object: \(ms(median(readAll))) per resolution (\(pages) paged"
                + " searches, \(entriesRead) entries back); ratio \(String(format: "%.1f", median(readAll) / median(indexed)))"
        )
        print(
            "global locate, learning the AD site: \(ms(median(learning))); given --ad-site: \(ms(median(given)));"
                + " ratio \(String(format: "%.2f", median(learning) / median(given))) (one search more per resolution)"
        )
    }
}
