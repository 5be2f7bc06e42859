import ArgumentParser
import CLDAPBaseline
import Foundation
import HierarchyFile
import LDAPKit
import Logging
import SiteAssembly
import SiteDirectory
import SiteLab
import SiteLocation
import SiteModel
import SiteTestKit

struct LocateBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locate",
        abstract:
            "Full global locate resolutions against raw libldap issuing the same queries; regional decisions with dead URIs."
    )

    @Option(help: "The hierarchy published into the lab.")
    var hierarchy = "examples/contoso.yaml"

    @Option(help: "Resolutions per measurement.")
    var resolutions = 2000

    @Option(help: "Measurements of each kind; the median is reported.")
    var rounds = 3

    @Option(help: "The connect timeout for the dead-directory measurements, in milliseconds.")
    var timeoutMilliseconds = 500

    func run() async throws {
        let result = HierarchyReader.read(file: hierarchy)
        guard result.errors.isEmpty else { throw ValidationError("\(hierarchy) does not validate") }
        let model = result.hierarchy
        try await withBenchLab(model) { lab in
            _ = try await Publisher.run(model.sites, in: model, connect: try lab.deployment(for: model).siteConnector())
            let corp = try ForestName("corp.contoso.com")
            guard let uri = lab.forests().first(where: { $0.name == corp })?.uri else { return }
            var logger = Logger(label: "siteloc-bench")
            logger.logLevel = .warning
            let directory = LDAPSiteDirectoryClient(
                access: DirectoryAccess(uris: [try LDAPURI(uri)], timeout: .seconds(2)),
                layout: DirectoryLayout(forest: corp),
                logger: logger
            )
            let locator = Locator(hierarchy: model) { $0 == corp ? directory : nil }
            let client = ClientProfile(
                address: try ClientAddress("10.21.1.9/24"),
                assignedSite: try SiteCode("CEN"),
                membership: .forest("corp.contoso.com")
            )
            let check = try await locator.locate(client)
            guard check.roaming == "global", check.roamedSite == "P01" else {
                throw ValidationError("unexpected: \(check)")
            }

            // The queries that resolution makes, in order (the connect probe, the subschema check, the lookup, the
            // resident management point), for the C loop.
            let layout = DirectoryLayout(forest: corp)
            guard let address = IPv4Address("10.21.1.9") else { throw ValidationError("not an IPv4 address") }
            let queries: [(String, Int32, String, String)] = [
                ("", 0, "(objectClass=*)", "supportedLDAPVersion"),
                ("", 0, "(objectClass=*)", "subschemaSubentry"),
                (
                    "cn=Subschema", 0,
                    LDAPFilter.and(
                        [.equal("objectClass", "subschema")]
                            + SchemaInstallation.configurationManagerClasses.map { .equal("objectClasses", $0) }
                    ).string,
                    "1.1"
                ),
                (
                    layout.systemManagement.string, 1,
                    "(&(objectClass=mSSMSSite)(|(mSSMSRoamingBoundaries=10.21.1.0)))",
                    "mSSMSSiteCode mSSMSRoamingBoundaries"
                ),
                (
                    layout.systemManagement.string, 1, BoundaryLookup.rangeFilter(for: address).string,
                    "mSSMSSiteCode mSSMSRangedIPLow mSSMSRangedIPHigh"
                ),
                (
                    layout.systemManagement.string, 1,
                    "(&(objectClass=mSSMSManagementPoint)(mSSMSDefaultMP=TRUE)(|(mSSMSSiteCode=P01)))",
                    "mSSMSSiteCode mSSMSMPName mSSMSMPAddress"
                ),
            ]
            var siteloc: [Double] = []
            var raw: [Double] = []
            for _ in 0..<rounds {
                siteloc.append(
                    Double(resolutions)
                        / (try await seconds {
                            for _ in 0..<resolutions { _ = try await locator.locate(client) }
                        })
                )
                raw.append(
                    Double(resolutions)
                        / (try await seconds {
                            let seen = withCStrings(queries.map(\.0)) { bases in
                                withCStrings(queries.map(\.2)) { filters in
                                    withCStrings(queries.map(\.3)) { attributes in
                                        cldap_baseline_resolutions(
                                            uri,
                                            bases,
                                            queries.map(\.1),
                                            filters,
                                            attributes,
                                            queries.count,
                                            resolutions
                                        )
                                    }
                                }
                            }
                            guard seen > 0 else { throw ValidationError("the libldap baseline failed") }
                        })
                )
            }
            let wrapper = median(siteloc)
            let baseline = median(raw)
            print(
                "siteloc-bench locate: global resolutions (a new connection each, \(queries.count) searches) against \(uri)"
            )
            print("siteloc locate  \(Int(wrapper)) resolutions/s")
            print("raw libldap     \(Int(baseline)) resolutions/s (the same queries)")
            print("ratio \(String(format: "%.2f", wrapper / baseline))")

            let timeout = Duration.milliseconds(timeoutMilliseconds)
            for deadCount in [1, 3] {
                var silent: [SilentListener] = []
                for _ in 0..<deadCount { silent.append(try SilentListener()) }
                let dead = LDAPSiteDirectoryClient(
                    access: DirectoryAccess(
                        uris: try silent.map { try LDAPURI("ldap://127.0.0.1:\($0.port)") },
                        timeout: timeout
                    ),
                    layout: layout,
                    logger: logger
                )
                let regional = Locator(hierarchy: model) { $0 == corp ? dead : nil }
                var outcome = ""
                let elapsed = try await seconds {
                    outcome = try await regional.locate(client).regionalReason ?? "global"
                }
                print(
                    "\(deadCount) silent URI\(deadCount == 1 ? "" : "s") at \(timeoutMilliseconds) ms each: \(outcome) after "
                        + "\(String(format: "%.3f", elapsed)) s (bound \(String(format: "%.3f", Double(deadCount) * timeout.seconds)) s + margin)"
                )
            }
        }
    }

    private func withCStrings<R>(
        _ strings: [String],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>) throws -> R
    ) rethrows -> R {
        let pointers = strings.map { UnsafePointer(strdup($0)) }
        defer { for pointer in pointers { free(UnsafeMutablePointer(mutating: pointer)) } }
        return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}
