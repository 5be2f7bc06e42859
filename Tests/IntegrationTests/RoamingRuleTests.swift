import DirectoryServing
import Foundation
import HierarchyFile
import LDAPKit
import SiteAssembly
import SiteDirectory
import SiteLab
import SiteLocation
import SiteModel
import Testing

/// A lab holding a hierarchy published for the roaming rules, shared by the cases below.
struct RulesLabScope: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    @concurrent func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @concurrent @Sendable () async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-rules-\(UUID().uuidString)")
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        let hierarchy = try RoamingRules.hierarchy()
        do {
            try await lab.up(hierarchy: hierarchy)
            _ = try await Publisher.run(
                hierarchy.sites,
                in: hierarchy,
                connect: try lab.deployment(for: hierarchy).siteConnector()
            )
            try await RoamingRules.$lab.withValue(lab) { try await function() }
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
    }
}

/// CEN (native) ─┬─ P01 (mixed) ─┬─ S01 (secondary)
///               │               └─ P11 (mixed) ── P21 (mixed)
///               ├─ P02 (native)
///               └─ P03 (mixed, no management point)
@Suite(RulesLabScope(), .timeLimit(.minutes(3)))
struct RoamingRules {
    @TaskLocal static var lab: Lab?

    static let yaml = """
        version: 1
        forests:
          - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            mode: native
            server: cen-ss.corp.contoso.com
            boundaries: [{subnet: 10.10.0.0/16}]
            systems:
              - {host: cen-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: cen-dp.corp.contoso.com, roles: [distributionPoint]}
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            boundaries:
              - {subnet: 10.20.0.0/16}
              - {range: 10.21.0.0-10.21.0.255, connection: slow}
              - {subnet: 10.23.0.0/16}
              - {adSite: Shared}
            systems:
              - {host: p01-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: p01-dp.corp.contoso.com, roles: [distributionPoint]}
              - {host: p01-secure.corp.contoso.com, roles: [distributionPoint], protectedBoundaries: [10.23.0.0/16]}
          - code: S01
            type: secondary
            parent: P01
            forest: corp.contoso.com
            server: s01-ss.corp.contoso.com
            boundaries: [{subnet: 10.22.0.0/16}]
            systems:
              - {host: s01-mp.corp.contoso.com, roles: [managementPoint, distributionPoint]}
          - code: P11
            type: primary
            parent: P01
            forest: corp.contoso.com
            server: p11-ss.corp.contoso.com
            boundaries:
              - {subnet: 10.24.0.0/16}
              - {range: 10.20.5.0-10.20.5.255}
            systems:
              - {host: p11-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: p11-dp.corp.contoso.com, roles: [distributionPoint]}
          - code: P21
            type: primary
            parent: P11
            forest: corp.contoso.com
            server: p21-ss.corp.contoso.com
            boundaries: [{subnet: 10.25.0.0/16}]
            systems:
              - {host: p21-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: p21-dp.corp.contoso.com, roles: [distributionPoint]}
          - code: P02
            type: primary
            parent: CEN
            forest: corp.contoso.com
            mode: native
            server: p02-ss.corp.contoso.com
            boundaries: [{subnet: 10.30.0.0/16}]
            systems:
              - {host: p02-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: p02-dp.corp.contoso.com, roles: [distributionPoint]}
          - code: P03
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p03-ss.corp.contoso.com
            boundaries: [{subnet: 10.40.0.0/16}, {adSite: Shared}]
            systems:
              - {host: p03-dp.corp.contoso.com, roles: [distributionPoint]}
        packages:
          - id: CEN00001
            sourceSite: CEN
            distributionPoints: [cen-dp.corp.contoso.com, p01-dp.corp.contoso.com, p01-secure.corp.contoso.com,
              s01-mp.corp.contoso.com, p11-dp.corp.contoso.com, p21-dp.corp.contoso.com, p02-dp.corp.contoso.com,
              p03-dp.corp.contoso.com]
          - {id: CEN00002, sourceSite: CEN, distributionPoints: [cen-dp.corp.contoso.com]}
          - {id: CEN00003, sourceSite: CEN, distributionPoints: [p01-dp.corp.contoso.com, cen-dp.corp.contoso.com]}
        advertisements:
          - {id: CEN20001, package: CEN00001, fastBoundary: downloadAndRun, slowBoundary: doNotRun}
          - {id: CEN20002, package: CEN00001, fastBoundary: runFromDP, slowBoundary: downloadAndRun}
          - {id: CEN20003, package: CEN00001, slowBoundary: runFromDP}
          - {id: CEN20004, package: CEN00003, slowBoundary: downloadAndRun, allowFallbackToUnprotected: true}
          - {id: CEN20005, package: CEN00003, allowFallbackToUnprotected: false}
          - {id: CEN20006, package: CEN00002}
        """

    static func hierarchy() throws -> Hierarchy {
        let result = HierarchyReader.read(yaml)
        guard result.errors.isEmpty else { throw LabError("the rules hierarchy does not validate: \(result.errors)") }
        return result.hierarchy
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let assigned: String
        let address: String
        var adSite: String?
        var membership: ClientProfile.Membership = .forest("corp.contoso.com")
        var allowHTTP = false
        let advertisement: String
        /// "roaming/roamedSite/modeMismatch/ambiguous managementPoint answeredBy fellBack decision dp,dp"
        let expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "at home on a fast boundary: download-local",
            assigned: "P01",
            address: "10.20.1.1/16",
            advertisement: "CEN20001",
            expected: "global/P01/-/- p01-mp p01-mp - download-local p01-dp"
        ),
        Case(
            name: "run-from-local-dp",
            assigned: "P01",
            address: "10.20.1.1/16",
            advertisement: "CEN20002",
            expected: "global/P01/-/- p01-mp p01-mp - run-from-local-dp p01-dp"
        ),
        Case(
            name: "slow boundary, do not run: wait",
            assigned: "P01",
            address: "10.21.0.9/24",
            advertisement: "CEN20001",
            expected: "global/P01/-/- p01-mp p01-mp - wait -"
        ),
        Case(
            name: "slow boundary: download-remote",
            assigned: "P01",
            address: "10.21.0.9/24",
            advertisement: "CEN20002",
            expected: "global/P01/-/- p01-mp p01-mp - download-remote p01-dp"
        ),
        Case(
            name: "slow boundary: run-from-remote-dp",
            assigned: "P01",
            address: "10.21.0.9/24",
            advertisement: "CEN20003",
            expected: "global/P01/-/- p01-mp p01-mp - run-from-remote-dp p01-dp"
        ),
        Case(
            name: "nothing holds it where the MP looks: unavailable",
            assigned: "P01",
            address: "10.20.1.1/16",
            advertisement: "CEN20006",
            expected: "global/P01/-/- p01-mp p01-mp - unavailable -"
        ),
        Case(
            name: "the resident MP has nothing: the default MP answers",
            assigned: "P01",
            address: "10.24.1.1/16",
            advertisement: "CEN20004",
            expected: "global/P11/-/- p11-mp p01-mp fellBack download-remote p01-dp"
        ),
        Case(
            name: "the smallest span wins: a /24 range inside a /16 subnet",
            assigned: "P01",
            address: "10.20.5.5/16",
            advertisement: "CEN20001",
            expected: "global/P11/-/- p11-mp p11-mp - download-local p11-dp"
        ),
        Case(
            name: "AD sites of two sites tie: the lowest code, ambiguous",
            assigned: "P01",
            address: "192.0.2.1/24",
            adSite: "shared",
            advertisement: "CEN20001",
            expected: "global/P01/-/ambiguous p01-mp p01-mp - download-local p01-dp"
        ),
        Case(
            name: "a roamed site without a management point",
            assigned: "P01",
            address: "10.40.1.1/16",
            advertisement: "CEN20001",
            expected: "global/P03/-/- p01-mp p01-mp - wait -"
        ),
        Case(
            name: "a mixed client in a native site: mode mismatch",
            assigned: "P01",
            address: "10.30.1.1/16",
            advertisement: "CEN20001",
            expected: "global/P02/mismatch/- p01-mp p01-mp - wait -"
        ),
        Case(
            name: "a native client in a mixed site: mode mismatch",
            assigned: "P02",
            address: "10.20.1.1/16",
            advertisement: "CEN20002",
            expected: "global/P01/mismatch/- p02-mp p02-mp - download-remote p02-dp"
        ),
        Case(
            name: "a native client allowing HTTP uses the mixed site",
            assigned: "P02",
            address: "10.20.1.1/16",
            allowHTTP: true,
            advertisement: "CEN20001",
            expected: "global/P01/-/- p01-mp p01-mp - download-local p01-dp"
        ),
        Case(
            name: "a protected boundary gets only its protected DP",
            assigned: "P01",
            address: "10.23.1.1/16",
            advertisement: "CEN20001",
            expected: "global/P01/-/- p01-mp p01-mp - download-local p01-secure"
        ),
        Case(
            name: "protected, not there, no fallback: unavailable",
            assigned: "P01",
            address: "10.23.1.1/16",
            advertisement: "CEN20005",
            expected: "global/P01/-/- p01-mp p01-mp - unavailable -"
        ),
        Case(
            name: "protected, not there, fallback allowed",
            assigned: "P01",
            address: "10.23.1.1/16",
            advertisement: "CEN20004",
            expected: "global/P01/-/- p01-mp p01-mp - download-local p01-dp"
        ),
        Case(
            name: "regional into a child",
            assigned: "P01",
            address: "10.24.1.1/16",
            membership: .workgroup,
            advertisement: "CEN20001",
            expected: "regional/-/-/- p01-mp p01-mp - download-local p11-dp"
        ),
        Case(
            name: "regional into a grandchild",
            assigned: "P01",
            address: "10.25.1.1/16",
            membership: .mobile,
            advertisement: "CEN20001",
            expected: "regional/-/-/- p01-mp p01-mp - download-local p21-dp"
        ),
        Case(
            name: "regional into a sibling: only the assigned site's DPs",
            assigned: "P11",
            address: "10.22.1.1/16",
            membership: .workgroup,
            advertisement: "CEN20002",
            expected: "regional/-/-/- p11-mp p11-mp - download-remote p11-dp"
        ),
        Case(
            name: "regional into the parent",
            assigned: "P11",
            address: "10.20.1.1/16",
            membership: .workgroup,
            advertisement: "CEN20001",
            expected: "regional/-/-/- p11-mp p11-mp - wait -"
        ),
        Case(
            name: "regional into a secondary with its proxy MP and DP",
            assigned: "P01",
            address: "10.22.1.1/16",
            membership: .workgroup,
            advertisement: "CEN20001",
            expected: "regional/-/-/- p01-mp p01-mp - download-local s01-mp"
        ),
    ]

    @Test(arguments: cases)
    func theRulesHoldAgainstARealDirectory(_ testCase: Case) async throws {
        guard let lab = Self.lab else { throw LabError("outside the rules lab") }
        let hierarchy = try Self.hierarchy()
        let forest = try ForestName("corp.contoso.com")
        let uri = try #require(lab.forests().first { $0.name == forest }?.uri)
        let directory = LDAPSiteDirectoryClient(
            access: DirectoryAccess(uris: [try LDAPURI(uri)], timeout: .seconds(2)),
            layout: DirectoryLayout(forest: forest),
            logger: TestLab.logger
        )
        let locator = Locator(hierarchy: hierarchy) { $0 == forest ? directory : nil }
        let advertisement = try #require(hierarchy.advertisements.first { $0.id == testCase.advertisement })
        let package = try #require(hierarchy.packages.first { $0.id == advertisement.package })
        let client = ClientProfile(
            address: try ClientAddress(testCase.address),
            assignedSite: try SiteCode(testCase.assigned),
            membership: testCase.membership,
            adSite: testCase.adSite,
            allowHTTPRoaming: testCase.allowHTTP
        )
        let result = try await locator.content(client, package: package, advertisement: advertisement)
        let location = result.location
        func short(_ host: String?) -> String { host.map { String($0.split(separator: ".")[0]) } ?? "-" }
        let summary = [
            "\(location.roaming)/\(location.roamedSite ?? "-")/\(location.modeMismatch ? "mismatch" : "-")/\(location.ambiguous ? "ambiguous" : "-")",
            short(location.managementPoint), short(result.answeredBy),
            result.fellBackToDefaultManagementPoint ? "fellBack" : "-",
            result.decision,
            result.distributionPoints.isEmpty
                ? "-" : result.distributionPoints.map { short($0.host) }.joined(separator: ","),
        ].joined(separator: " ")
        #expect(summary == testCase.expected, "\(location.trace.joined(separator: "\n"))")
    }
}
