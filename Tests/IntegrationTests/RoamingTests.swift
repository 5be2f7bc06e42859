import Foundation
import LDAPKit
import SiteDirectory
import SiteLab
import SiteLocation
import SiteModel
import SiteTestKit
import Synchronization
import Testing

/// Records which forests' directories a client asked, to prove what it did not ask.
final class AskedForests: Sendable {
    private let asked = Mutex<[ForestName]>([])
    func record(_ forest: ForestName) { asked.withLock { $0.append(forest) } }
    var forests: [ForestName] { asked.withLock { $0 } }
}

extension Publishing {
    static func locator(
        asked: AskedForests? = nil,
        uris: [ForestName: [String]]? = nil,
        timeout: Duration = .seconds(2)
    )
        throws -> Locator
    {
        let hierarchy = try Published.example()
        let lab = try Published.current()
        var clients: [ForestName: LDAPSiteDirectoryClient] = [:]
        for forest in hierarchy.forests {
            let texts = uris?[forest.name] ?? lab.forests().filter { $0.name == forest.name }.map(\.uri)
            clients[forest.name] = LDAPSiteDirectoryClient(
                access: DirectoryAccess(uris: try texts.map { try LDAPURI($0) }, timeout: timeout),
                layout: DirectoryLayout(forest: forest.name),
                logger: TestLab.logger
            )
        }
        let known = clients
        return Locator(hierarchy: hierarchy) { forest in
            asked?.record(forest)
            return known[forest]
        }
    }

    static func client(
        _ address: String,
        assigned: String,
        forest: String? = "corp.contoso.com",
        adSite: String? = nil,
        membership: ClientProfile.Membership? = nil
    ) throws -> ClientProfile {
        ClientProfile(
            address: try ClientAddress(address),
            assignedSite: try SiteCode(assigned),
            membership: membership ?? .forest(forest ?? ""),
            adSite: adSite
        )
    }

    struct RoamingCase: Sendable, CustomTestStringConvertible {
        let name: String
        let client: @Sendable () throws -> ClientProfile
        let expected: String  // "roaming reason roamedSite atHome boundaryType managementPoint"
        var testDescription: String { name }
    }

    static let roamingCases: [RoamingCase] = [
        RoamingCase(
            name: "mobile device",
            client: { try client("10.20.1.1/16", assigned: "CEN", membership: .mobile) },
            expected: "regional mobile-device - - - cen-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "workgroup",
            client: { try client("10.20.1.1/16", assigned: "CEN", membership: .workgroup) },
            expected: "regional workgroup - - - cen-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "other forest",
            client: { try client("10.20.1.1/16", assigned: "CEN", forest: "fabrikam.com") },
            expected: "regional other-forest - - - cen-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "an undeclared forest is another forest",
            client: { try client("10.20.1.1/16", assigned: "CEN", forest: "elsewhere.org") },
            expected: "regional other-forest - - - cen-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "at home by subnet",
            client: { try client("10.10.4.4/16", assigned: "CEN") },
            expected: "global - CEN true subnet cen-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "roamed by subnet",
            client: { try client("10.20.4.4/16", assigned: "CEN") },
            expected: "global - P01 false subnet p01-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "the client's own prefix gives another subnet ID; its AD site, learned from 10.20.0.0/16, finds P01",
            client: { try client("10.20.4.4/24", assigned: "CEN") },
            expected: "global - P01 false adSite p01-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "the client's own prefix gives another subnet ID, and no subnet object holds it",
            client: { try client("10.21.9.4/24", assigned: "CEN") },
            expected: "global - - - - cen-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "roamed by range",
            client: { try client("10.21.2.2/24", assigned: "CEN") },
            expected: "global - P01 false range p01-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "roamed by AD site, case-insensitive",
            client: { try client("192.0.2.1/24", assigned: "CEN", adSite: "PARIS") },
            expected: "global - P01 false adSite p01-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "an IP match beats an AD site",
            client: { try client("10.10.1.1/16", assigned: "CEN", adSite: "Paris") },
            expected: "global - CEN true subnet cen-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "roamed by IPv6 prefix",
            client: { try client("2001:db8:10::77/64", assigned: "P01") },
            expected: "global - CEN false ipv6Prefix cen-mp.corp.contoso.com"
        ),
        RoamingCase(
            name: "into a secondary with its proxy management point",
            client: { try client("10.22.0.9/24", assigned: "CEN") },
            expected: "global - S01 false subnet s01-mp.corp.contoso.com"
        ),
    ]

    @Test(arguments: roamingCases)
    func clientsFindWhereTheyAre(_ testCase: RoamingCase) async throws {
        let location = try await Self.locator().locate(try testCase.client())
        let summary = [
            location.roaming, location.regionalReason ?? "-", location.roamedSite ?? "-",
            location.atHome.map(String.init) ?? "-", location.boundary?.type ?? "-", location.managementPoint ?? "-",
        ].joined(separator: " ")
        #expect(summary == testCase.expected, "\(location.trace.joined(separator: "\n"))")
    }

    @Test func aSiteThatDoesNotPublishCannotBeFoundThroughTheDirectory() async throws {
        // S02 (fabrikam.com, publish: false) is in the file, but not in the directory.
        let location = try await Self.locator().locate(
            try Self.client("10.31.0.5/24", assigned: "P02", forest: "fabrikam.com")
        )
        #expect(location.roaming == "global")
        #expect(location.roamedSite == nil)
        #expect(location.managementPoint == "p02-mp.fabrikam.com")
    }

    @Test func aClientOfAnotherForestNeverAsksTheFirstForestsDirectory() async throws {
        let asked = AskedForests()
        _ = try await Self.locator(asked: asked).locate(
            try Self.client("10.20.1.1/16", assigned: "CEN", forest: "fabrikam.com")
        )
        #expect(asked.forests.isEmpty)
        _ = try await Self.locator(asked: asked).locate(try Self.client("10.20.1.1/16", assigned: "CEN"))
        #expect(asked.forests == [try ForestName("corp.contoso.com")])
    }

    @Test func aRegionalClientInASiblingIsOfferedOnlyItsAssignedSitesDistributionPoints() async throws {
        // Assigned to P02 (fabrikam), standing in P01's subnet: P02's management point does not know P01.
        let result = try await Self.locator().content(
            try Self.client("10.20.1.1/16", assigned: "P02", membership: .workgroup),
            package: try #require(try Published.example().packages.first { $0.id == "CEN00002" }),
            advertisement: nil
        )
        #expect(result.location.regionalReason == "workgroup")
        #expect(result.answeredBy == "p02-mp.fabrikam.com")
        #expect(result.distributionPoints.isEmpty, "remote on a sibling: the default slow setting is wait")
        #expect(result.decision == "wait")
        #expect(result.location.trace.contains { $0.contains("p02-dp.fabrikam.com (remote)") })
    }

    @Test func aResidentManagementPointWithNothingSendsTheClientToItsDefaultOne() async throws {
        let hierarchy = try Published.example()
        // CEN00002 is on cen-dp1, s01-mp and p02-dp: not in P01, so P01's management point has nothing.
        let result = try await Self.locator().content(
            try Self.client("10.20.1.1/16", assigned: "CEN"),
            package: try #require(hierarchy.packages.first { $0.id == "CEN00002" }),
            advertisement: hierarchy.advertisements.first { $0.id == "CEN20002" }
        )
        #expect(result.location.managementPoint == "p01-mp.corp.contoso.com")
        #expect(result.fellBackToDefaultManagementPoint)
        #expect(result.answeredBy == "cen-mp.corp.contoso.com")
        #expect(result.decision == "download-remote")
        #expect(result.distributionPoints.map(\.host) == ["cen-dp1.corp.contoso.com"])
    }

    // MARK: Bounded fallback: the answer is regional, never an error, within one timeout however many URIs

    @Test func deadDirectoriesGiveRegionalRoamingWithinOneTimeout() async throws {
        let silent = try SilentServer()
        let stalling = try HostileDirectory(.trickleAfterFirst)
        defer { stalling.stop() }
        let closed = try closedPort()
        let live = try #require(try Published.current().forests().first { $0.name == Published.corp }?.uri)
        let dead = ["ldap://127.0.0.1:\(closed)", "ldap://127.0.0.1:\(silent.port)", stalling.ldapURI]
        func many(_ count: Int) -> [String] { (0..<count).map { dead[$0 % dead.count] } }
        let cases: [([String], String)] = [
            (["ldap://127.0.0.1:\(closed)"], "regional"),
            (["ldap://127.0.0.1:\(silent.port)"], "regional"),
            ([stalling.ldapURI], "regional"),
            (many(3), "regional"),
            (many(10), "regional"),
            // A server that answers the probe and then stalls would win the race and cost the timeout (spec'd):
            // the global case puts only closed and silent ones before the live one.
            (many(2) + [live], "global"),
        ]
        let timeout = Duration.seconds(1)
        for (uris, expected) in cases {
            let locator = try Self.locator(uris: [Published.corp: uris], timeout: timeout)
            let start = ContinuousClock.now
            let location = try await locator.locate(try Self.client("10.20.1.1/16", assigned: "CEN"))
            let elapsed = ContinuousClock.now - start
            #expect(location.roaming == expected, "\(uris): \(location.trace)")
            if expected == "regional" { #expect(location.regionalReason == "directory-unreachable") }
            #expect(elapsed < timeout + .milliseconds(500), "\(uris.count) URIs took \(elapsed)")
            if expected == "global" {
                // The trace names the URI that answered and what became of the others.
                #expect(
                    location.trace.contains { $0.contains("asked the directory at \(live)") && $0.contains("failed") },
                    "\(location.trace)"
                )
            }
        }
    }
}

extension Publishing {
    /// Two real forests, each with its own directory and its own published site: a client finds sites only in
    /// its own forest's directory, and a client of the other forest roams regionally.
    @Test func roamingAcrossTwoForestsUsesOnlyTheClientsOwnForest() async throws {
        let asked = AskedForests()
        let locator = try Self.locator(asked: asked)
        // A fabrikam.com client of P02 in P02's subnet: found in fabrikam.com's directory.
        let home = try await locator.locate(try Self.client("10.30.1.1/16", assigned: "P02", forest: "fabrikam.com"))
        #expect(home.roaming == "global" && home.roamedSite == "P02", "\(home.trace)")
        // The same client in CEN's subnet: CEN publishes into corp.contoso.com, which this client never asks.
        let away = try await locator.locate(try Self.client("10.10.1.1/16", assigned: "P02", forest: "fabrikam.com"))
        #expect(away.roaming == "global" && away.roamedSite == nil, "\(away.trace)")
        #expect(Set(asked.forests) == [try ForestName("fabrikam.com")])
        // A corp.contoso.com client assigned to P02 (which publishes into fabrikam.com): regional roaming.
        let other = try await locator.locate(
            try Self.client("10.30.1.1/16", assigned: "P02", forest: "corp.contoso.com")
        )
        #expect(other.roaming == "regional" && other.regionalReason == "other-forest", "\(other.trace)")
        #expect(Set(asked.forests) == [try ForestName("fabrikam.com")])
        // And a corp.contoso.com client of CEN in CEN's subnet is found in corp.contoso.com's directory.
        let corp = try await locator.locate(try Self.client("10.10.1.1/16", assigned: "CEN"))
        #expect(corp.roamedSite == "CEN")
        #expect(Set(asked.forests) == [try ForestName("fabrikam.com"), try ForestName("corp.contoso.com")])
    }
}
