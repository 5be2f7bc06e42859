import HierarchyFile
import SiteDirectory
import SiteLocation
import SiteModel
import Testing

/// A directory that answers what it is told to, for the rules that do not need a real one.
struct FakeDirectory: SiteDirectoryClient {
    let answer: DirectoryAnswer
    func ask(_ client: ClientProfile, trace: @escaping @Sendable (String) -> Void) async -> DirectoryAnswer { answer }
}

@Suite struct LocatorTests {
    static let hierarchy = ManagementPointTests.hierarchy

    static func locate(
        assigned: String,
        roamedInto site: String,
        residentMode: SiteMode,
        allowHTTP: Bool = false
    ) async throws -> Location {
        let code = try SiteCode(site)
        let match = BoundaryMatch(kind: .subnet, value: "10.99.0.0", site: code, span: 65536, dn: "cn=x")
        let directory = FakeDirectory(
            answer: .answered(
                [match],
                residentManagementPoints: [
                    code: ResidentManagementPoint(host: "\(site.lowercased())-mp.corp.contoso.com", mode: residentMode)
                ]
            )
        )
        let locator = Locator(hierarchy: hierarchy) { _ in directory }
        return try await locator.locate(
            ClientProfile(
                address: try ClientAddress("10.99.1.1/16"),
                assignedSite: try SiteCode(assigned),
                membership: .forest("corp.contoso.com"),
                allowHTTPRoaming: allowHTTP
            )
        )
    }

    @Test(arguments: [
        // assigned (its mode), roamed into, that site's mode, allow HTTP → mode mismatch, management point used
        ("P01", "P02", SiteMode.native, false, true, "p01-mp.corp.contoso.com"),  // mixed client, native site
        ("P02", "P01", .mixed, false, true, "p02-mp.corp.contoso.com"),  // native client, mixed site, no HTTP
        ("P02", "P01", .mixed, true, false, "p01-mp.corp.contoso.com"),  // native client allowing HTTP
        ("P01", "P11", .mixed, false, false, "p11-mp.corp.contoso.com"),  // same mode
        ("CEN", "CEN", .native, false, false, "cen-mp.corp.contoso.com"),  // at home
    ])
    func theModeRuleDecidesWhetherTheResidentManagementPointIsUsed(
        assigned: String,
        roamed: String,
        mode: SiteMode,
        allowHTTP: Bool,
        mismatch: Bool,
        managementPoint: String
    ) async throws {
        let location = try await Self.locate(
            assigned: assigned,
            roamedInto: roamed,
            residentMode: mode,
            allowHTTP: allowHTTP
        )
        #expect(location.modeMismatch == mismatch)
        #expect(location.managementPoint == managementPoint)
        #expect(location.residentManagementPoint == "\(roamed.lowercased())-mp.corp.contoso.com")
    }

    @Test func aSiteWithoutAManagementPointSendsTheClientToItsDefaultOne() async throws {
        let code = try SiteCode("S01")
        let match = BoundaryMatch(kind: .subnet, value: "10.22.0.0", site: code, span: 65536, dn: "cn=x")
        let locator = Locator(hierarchy: Self.hierarchy) { _ in
            FakeDirectory(answer: .answered([match], residentManagementPoints: [:]))
        }
        let location = try await locator.locate(
            ClientProfile(
                address: try ClientAddress("10.22.1.1/16"),
                assignedSite: try SiteCode("P01"),
                membership: .forest("corp.contoso.com")
            )
        )
        #expect(location.roamedSite == "S01")
        #expect(location.residentManagementPoint == nil)
        #expect(location.managementPoint == "p01-mp.corp.contoso.com")
    }

    @Test func ambiguityGoesToTheLowestSiteCodeAndIsFlagged() async throws {
        let matches = try ["P11", "P01"].map {
            BoundaryMatch(kind: .subnet, value: "10.99.0.0", site: try SiteCode($0), span: 65536, dn: "cn=\($0)")
        }
        let locator = Locator(hierarchy: Self.hierarchy) { _ in
            FakeDirectory(answer: .answered(matches, residentManagementPoints: [:]))
        }
        let location = try await locator.locate(
            ClientProfile(
                address: try ClientAddress("10.99.1.1/16"),
                assignedSite: try SiteCode("P01"),
                membership: .forest("corp.contoso.com")
            )
        )
        #expect(location.roamedSite == "P01")
        #expect(location.ambiguous)
    }

    @Test(arguments: [DirectoryAnswer.schemaNotExtended, .unreachable("down")])
    func aDirectoryThatCannotBeUsedMeansRegionalRoaming(answer: DirectoryAnswer) async throws {
        let locator = Locator(hierarchy: Self.hierarchy) { _ in FakeDirectory(answer: answer) }
        let location = try await locator.locate(
            ClientProfile(
                address: try ClientAddress("10.20.1.1/16"),
                assignedSite: try SiteCode("P01"),
                membership: .forest("corp.contoso.com")
            )
        )
        #expect(location.roaming == "regional")
        #expect(["schema-not-extended", "directory-unreachable"].contains(location.regionalReason))
        #expect(location.managementPoint == "p01-mp.corp.contoso.com")
    }
}
