import ArgumentParser
import CommandLineCore
import Foundation
import LDAPKit
import Logging
import SiteAssembly
import SiteDirectory
import SiteLab
import SiteLocation
import SiteModel
import SiteServer

/// The client options of `locate` and `content` (docs/command-line.md).
struct ClientOptions: ParsableArguments {
    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Option(
        name: .customLong("ip"),
        help: "The client's address with its prefix length, e.g. 10.20.1.5/24 (IPv6 defaults to /64)."
    )
    var address: String

    @Option(help: "The client's assigned site (a primary site).")
    var assignedSite: String

    @Option(help: "The forest the client is joined to.")
    var forest: String?

    @Flag(help: "The client is in a workgroup.")
    var workgroup = false

    @Flag(help: "The client is a mobile device.")
    var mobile = false

    @Option(help: "The directory site name the client reports.")
    var adSite: String?

    @Flag(help: "The client allows HTTP for roaming and site assignment (matters for native-mode clients).")
    var allowHTTPRoaming = false

    @Option(name: .customLong("directory"), help: "A directory URI for the client's forest (repeatable).")
    var directoryURIs: [String] = []

    @Option(
        help: "Seconds each directory URI gets for the connect and for every answer (default 2).",
        transform: TimeLimit.argument
    )
    var connectTimeout: TimeLimit = .seconds(2)

    @Option(name: .customLong("dir"), help: "The lab folder, for directories the file does not give.")
    var labDirectory: String = Lab.defaultDirectory

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        let memberships = [forest != nil, workgroup, mobile].filter { $0 }.count
        guard memberships == 1 else {
            throw ValidationError("give exactly one of --forest NAME, --workgroup, --mobile")
        }
        do { _ = try ClientAddress(address) } catch { throw ValidationError(error.description) }
    }

    func profile() throws -> ClientProfile {
        let code = try SiteCode(assignedSite)
        let membership: ClientProfile.Membership =
            mobile ? .mobile : workgroup ? .workgroup : .forest(forest ?? "")
        return ClientProfile(
            address: try ClientAddress(address),
            assignedSite: code,
            membership: membership,
            adSite: adSite,
            allowHTTPRoaming: allowHTTPRoaming
        )
    }

    /// The locator, with the directory of each forest: --directory, else the file's URIs, else the lab's; management
    /// points answer from their sites' databases once a site server has run there, until then from the file.
    func locator(for model: Hierarchy) throws -> Locator {
        try Lab(directory: labDirectory, logger: .siteloc).deployment(
            for: model,
            directories: try directoryURIs.map { try LDAPURI($0) },
            directoryTimeout: connectTimeout.duration,
            transport: .folder
        )
        .locator()
    }
}

struct LocateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locate",
        abstract: "Where a client is: global or regional roaming, the roamed site, its management point.",
        discussion: """
            A client with global roaming asks its forest's directory which published boundary contains it; \
            without (a mobile device, a workgroup client, a client of another forest, a directory that does not \
            answer within the timeout or lacks the schema) it roams regionally and talks to its default \
            management point. It never fails because of the directory.
            """
    )

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let model = try loadHierarchy(client.hierarchy)
        let location = try await client.locator(for: model).locate(try client.profile())
        if client.json { return try printJSON(location) }
        printLocation(location)
    }
}

struct ContentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "content",
        abstract: "Where a client gets a package: the management point's answer and what the client does.",
        discussion: """
            The management point answers from what its site knows (its own site and the sites below it): the \
            distribution points holding the package that the client may use, local or remote by the client's \
            boundary; the advertisement's fast and slow settings decide what the client does.
            """
    )

    @Option(help: "The package.", transform: { try PackageID($0) })
    var package: PackageID

    @Option(
        help: "The advertisement (its settings decide; without it the defaults apply).",
        transform: {
            try AdvertisementID($0)
        }
    )
    var advertisement: AdvertisementID?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let model = try loadHierarchy(client.hierarchy)
        guard let package = model.package(package.rawValue) else {
            throw CommandFailure.badInput(
                "package \(package) is not in \(client.hierarchy); expected one of \(model.packages.map(\.id).joined(separator: ", "))"
            )
        }
        var chosen: Advertisement?
        if let advertisement {
            guard let found = model.advertisements.first(where: { $0.id == advertisement.rawValue })
            else {
                throw CommandFailure.badInput("advertisement \(advertisement) is not in \(client.hierarchy)")
            }
            guard found.package.uppercased() == package.id.uppercased() else {
                throw CommandFailure.badInput(
                    "advertisement \(found.id) is for package \(found.package), not \(package.id)"
                )
            }
            chosen = found
        }
        let result = try await client.locator(for: model).content(
            try client.profile(),
            package: package,
            advertisement: chosen
        )
        if client.json { return try printJSON(result) }
        printLocation(result.location, showTrace: false)
        print("package           \(result.package)\(result.advertisement.map { " (advertisement \($0))" } ?? "")")
        print(
            "answered by       \(result.answeredBy ?? "-")\(result.fellBackToDefaultManagementPoint ? " (fell back to the default management point)" : "")"
        )
        print("decision          \(result.decision)")
        for point in result.distributionPoints {
            print(
                "  \(point.host)  site \(point.site), \(point.locality.rawValue)\(point.protected ? ", protected" : "")"
            )
        }
        print("trace:")
        for line in result.location.trace { print("  \(line)") }
    }
}

func printLocation(_ location: Location, showTrace: Bool = true) {
    print("roaming           \(location.roaming)\(location.regionalReason.map { " (\($0))" } ?? "")")
    if let roamed = location.roamedSite {
        let home = location.atHome == true ? "at home" : "roamed from assigned site \(location.assignedSite)"
        print("site              \(roamed), \(home)\(location.ambiguous ? ", ambiguous" : "")")
    } else {
        print("site              unknown to the client (assigned site \(location.assignedSite))")
    }
    if let boundary = location.boundary { print("boundary          \(boundary.type) \(boundary.value)") }
    print(
        "management point  \(location.managementPoint ?? "none")\(location.modeMismatch ? " (mode mismatch: the resident one is not usable)" : "")"
    )
    if showTrace {
        print("trace:")
        for line in location.trace { print("  \(line)") }
    }
}
