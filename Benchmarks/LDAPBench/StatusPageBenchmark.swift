import ArgumentParser
import Foundation
import SiteDatabase
import SiteModel
import SiteServer
import SiteServices
import SiteTestKit

/// The status page of the top site of a large hierarchy: reading the site server's records and database into the
/// overview, and rendering it as HTML, against encoding the same overview as JSON (Foundation's JSONEncoder, the
/// `/siteloc/v1/status` answer) in the same run.
struct StatusPageBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status-page",
        abstract: "The status page of a 1,000-site hierarchy with 10,000 package statuses: read, render, and JSON."
    )

    @Option(help: "Sites in the hierarchy (a tree, ten children under each).")
    var sites = 1_000

    @Option(help: "Packages, each on every site's distribution point but the top one's.")
    var packages = 10

    @Option(help: "Measurements of each kind; the median is reported.")
    var rounds = 7

    func run() async throws {
        var hierarchy = HierarchyGenerator.tree(sites: sites)
        let top = hierarchy.sites[0].code
        let dps = hierarchy.sites.dropFirst().compactMap { $0.systems.last?.host }
        hierarchy.packages = (1...packages).map { number in
            let digits = String(number)
            let id = top.rawValue + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
            return Package(id: id, sourceSite: top, sizeKB: 1, distributionPoints: dps)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-bench-page-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let folders = SiteFolders(site: top, sitesDirectory: folder)
        _ = try folders.initialize()
        let database = try requireDatabase(folders)
        let now = Date()
        for site in hierarchy.sites.dropFirst() {
            for package in hierarchy.packages {
                _ = try database.record(
                    PackageStatus(
                        site: site.code.rawValue,
                        package: package.id,
                        version: "sha256:" + String(repeating: "ab", count: 32),
                        distributionPoints: [site.systems.last?.host ?? ""],
                        placedAt: now
                    )
                )
            }
        }
        let statuses = (hierarchy.sites.count - 1) * hierarchy.packages.count
        var read: [Double] = []
        var render: [Double] = []
        var json: [Double] = []
        var bytes = (html: 0, json: 0)
        for _ in 0..<rounds {
            var overview: SiteOverview?
            read.append(
                await seconds { overview = SiteOverview(status: SiteStatus(folders: folders), hierarchy: hierarchy) }
            )
            guard let overview else { continue }
            render.append(await seconds { bytes.html = StatusPage.render(overview).utf8.count })
            json.append(
                try await seconds {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    encoder.dateEncodingStrategy = .iso8601
                    bytes.json = try encoder.encode(overview).count
                }
            )
        }
        print(
            String(
                format: "%d sites, %d package statuses: read %.1f ms, render %.1f ms (%d KB of HTML); JSON of the same"
                    + " %.1f ms (%d KB): render/JSON %.2f; read+render %.1f ms",
                hierarchy.sites.count,
                statuses,
                median(read) * 1000,
                median(render) * 1000,
                bytes.html / 1024,
                median(json) * 1000,
                bytes.json / 1024,
                median(render) / median(json),
                (median(read) + median(render)) * 1000
            )
        )
    }
}

private func requireDatabase(_ folders: SiteFolders) throws -> SiteDatabase {
    guard let database = try folders.openDatabase() else { throw ValidationError("no site database") }
    return database
}
