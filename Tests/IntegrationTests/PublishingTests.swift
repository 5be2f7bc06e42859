import DirectoryServing
import Foundation
import Glibc
import HierarchyFile
import LDAPKit
import SiteAssembly
import SiteDirectory
import SiteModel
import SiteTestKit
import Testing

@testable import SiteLab

/// A lab started from the example hierarchy and published once, for the publishing tests (which run one at a
/// time: some change what is published).
struct PublishedLabScope: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    @concurrent func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @concurrent @Sendable () async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "siteloc-publish-\(UUID().uuidString)"
        )
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        let hierarchy = try Published.example()
        do {
            try await lab.up(hierarchy: hierarchy)
            _ = try await Publisher.run(
                hierarchy.sites,
                in: hierarchy,
                connect: try lab.deployment(for: hierarchy).siteConnector()
            )
            try await Published.$lab.withValue(lab) { try await function() }
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
    }
}

enum Published {
    @TaskLocal static var lab: Lab?

    static let corp = try! ForestName("corp.contoso.com")
    static let fabrikam = try! ForestName("fabrikam.com")
    static let corpLayout = DirectoryLayout(forest: corp)

    static func example() throws -> Hierarchy {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/contoso.yaml").path
        let result = HierarchyReader.read(file: file)
        guard result.errors.isEmpty else { throw LabError("the example does not validate: \(result.errors)") }
        return result.hierarchy
    }

    static func current() throws -> Lab {
        guard let lab else { throw LabError("publishing tests must run inside the published lab suite") }
        return lab
    }

    static func connect(_ forest: ForestName, as identity: LabIdentity) async throws -> LDAPConnection {
        try await current().connect(to: forest, as: identity)
    }

    /// A connection bound as the site's own identity.
    static func connect(asSite code: String) async throws -> LDAPConnection {
        let hierarchy = try example()
        let site = try #require(hierarchy.site(try SiteCode(code)))
        return try await current().deployment(for: hierarchy).siteConnector()(site)
    }

    /// The DNs below cn=System Management with this site code, lower-cased.
    static func objects(of code: String, in forest: ForestName = corp) async throws -> Set<String> {
        let reader = try await connect(forest, as: .anonymous)
        let entries = try await reader.search(
            base: DirectoryLayout(forest: forest).systemManagement,
            scope: .oneLevel,
            filter: .equal("mSSMSSiteCode", code),
            attributes: ["1.1"]
        )
        await reader.close()
        return Set(entries.map { $0.dn.lowercased() })
    }
}

@Suite(.serialized, PublishedLabScope(), .timeLimit(.minutes(3)))
struct Publishing {
    @Test func theLabHoldsWhatActiveDirectoryWouldHold() async throws {
        let admin = try await Published.connect(Published.corp, as: .admin)
        let partitions = try await admin.search(base: Published.corpLayout.partitions, scope: .base).first
        #expect(partitions?.first("msDS-Behavior-Version") == "2")
        let trust = try await admin.search(base: Published.corpLayout.trustedDomain(Published.fabrikam), scope: .base)
            .first
        #expect(trust?.first("trustPartner") == "fabrikam.com")
        #expect(trust?.first("trustDirection") == "3")
        #expect(trust?.first("trustAttributes") == "8")
        let computers = try await admin.search(
            base: Published.corpLayout.computers,
            scope: .oneLevel,
            filter: .equal("objectClass", "computer")
        )
        #expect(Set(computers.compactMap { $0.first("mSSMSSiteCode") }) == ["CEN", "P01", "S01"])
        #expect(computers.allSatisfy { $0.first("operatingSystem") == "Windows Server 2003" })
        await admin.close()
        for code in ["CEN", "P01", "S01", "P02", "S02"] {
            let identity = try await Published.connect(asSite: code)
            await identity.close()
        }
    }

    @Test func eachSitePublishesWhatTheSpecSays() async throws {
        let reader = try await Published.connect(Published.corp, as: .anonymous)
        let base = Published.corpLayout.systemManagement
        let site = try await reader.search(base: base.child("cn", "SMS-Site-CEN"), scope: .base).first
        #expect(Set(site?["mSSMSRoamingBoundaries"] ?? []) == ["10.10.0.0", "Redmond-HQ", "2001:db8:10::/64"])
        #expect(site?.first("mSSMSAssignmentSiteCode") == "CEN")
        #expect(site?.attribute("serviceBindingInformation") == nil, "the key slot stays empty until a key exists")
        let secondary = try await reader.search(base: base.child("cn", "SMS-Site-S01"), scope: .base).first
        #expect(secondary?.first("mSSMSAssignmentSiteCode") == "P01")
        let mp = try await reader.search(base: base.child("cn", "SMS-MP-CEN-CEN-MP.CORP.CONTOSO.COM"), scope: .base)
            .first
        #expect(mp?.first("mSSMSDefaultMP") == "TRUE")
        #expect(mp?.first("mSSMSMPAddress") == "http://cen-mp.corp.contoso.com")
        #expect(mp?.first("mSSMSCapabilities")?.contains("<RootSiteCode>CEN</RootSiteCode>") == true)
        let range = try await reader.search(base: base.child("cn", "SMS-P01-10.21.0.1-10.21.3.254"), scope: .base).first
        #expect(range?.first("mSSMSRangedIPLow") == "169148417")
        #expect(range?.first("mSSMSRangedIPHigh") == "169149438")
        #expect(range?["sitelocRangeBlock"].contains("10.21.0.1/32") == true)
        #expect(try await Published.objects(of: "S02", in: Published.fabrikam).isEmpty, "S02 does not publish")
        #expect(try await Published.objects(of: "P02", in: Published.fabrikam).count == 2)
        await reader.close()
    }

    @Test func publishingAgainChangesNothing() async throws {
        let hierarchy = try Published.example()
        let reports = try await Publisher.run(
            hierarchy.sites,
            in: hierarchy,
            connect: try Published.current().deployment(for: hierarchy).siteConnector()
        )
        #expect(reports.count == 5)
        #expect(reports.allSatisfy { $0.changes.isEmpty }, "\(reports.map { ($0.site, $0.changes.count) })")
    }

    @Test func aDryRunReportsChangesAndWritesNothing() async throws {
        var hierarchy = try Published.example()
        let index = try #require(hierarchy.sites.firstIndex { $0.code.rawValue == "P01" })
        hierarchy.sites[index].boundaries.append(Boundary(.adSite("Nantes")))
        hierarchy.sites[index].boundaries.removeAll { $0.value.description == "10.21.0.1-10.21.3.254" }
        let before = try await Published.objects(of: "P01")
        let reports = try await Publisher.run(
            [hierarchy.sites[index]],
            in: hierarchy,
            dryRun: true,
            connect: try Published.current().deployment(for: hierarchy).siteConnector()
        )
        let changes = try #require(reports.first?.changes)
        #expect(changes.count == 2)
        let ldif = LDIFWriter.ldif(changes)
        #expect(ldif.contains("changetype: delete"))
        #expect(ldif.contains("replace: mSSMSRoamingBoundaries") && ldif.contains("mSSMSRoamingBoundaries: Nantes"))
        #expect(try await Published.objects(of: "P01") == before)
    }

    @Test func unpublishingRemovesOnlyThatSitesObjects() async throws {
        let hierarchy = try Published.example()
        let cenBefore = try await Published.objects(of: "CEN")
        let p01 = try #require(hierarchy.site(try SiteCode("P01")))
        let connector = try Published.current().deployment(for: hierarchy).siteConnector()
        _ = try await Publisher.run([p01], in: hierarchy, unpublish: true, connect: connector)
        #expect(try await Published.objects(of: "P01").isEmpty)
        #expect(try await Published.objects(of: "CEN") == cenBefore)
        let again = try await Publisher.run([p01], in: hierarchy, connect: connector)
        #expect(again.first?.added == 3)
    }

    // MARK: Access control: each denial, against the real slapd

    @Test func aSiteCannotChangeAddOrDeleteAnotherSitesObjects() async throws {
        let p01 = try await Published.connect(asSite: "P01")
        let base = Published.corpLayout.systemManagement
        let cen = base.child("cn", "SMS-Site-CEN")
        try await expectDenied {
            try await p01.modify(cen, [.replace("mSSMSRoamingBoundaries", ["192.0.2.0"])])
        }
        try await expectDenied {
            try await p01.add(
                base.child("cn", "SMS-Site-CEX"),
                attributes: [LDAPAttribute("objectClass", "mSSMSSite"), LDAPAttribute("mSSMSSiteCode", "CEN")]
            )
        }
        try await expectDenied { try await p01.delete(cen) }
        try await expectDenied {
            try await p01.modify(base.child("cn", "SMS-Site-P01"), [.replace("mSSMSSiteCode", ["CEN"])])
        }
        try await expectDenied {
            try await p01.modify(
                Published.corpLayout.computer(host: "cen-ss.corp.contoso.com"),
                [.replace("description", ["x"])]
            )
        }
        // Its own objects it may change, add and delete.
        try await p01.modify(base.child("cn", "SMS-Site-P01"), [.replace("mSSMSSourceForest", ["corp.contoso.com"])])
        let own = base.child("cn", "SMS-P01-scratch")
        try await p01.add(
            own,
            attributes: [LDAPAttribute("objectClass", "mSSMSSite"), LDAPAttribute("mSSMSSiteCode", "P01")]
        )
        try await p01.delete(own)
        await p01.close()
    }

    @Test func anonymousClientsCannotWrite() async throws {
        let anonymous = try await Published.connect(Published.corp, as: .anonymous)
        let base = Published.corpLayout.systemManagement
        do {
            try await anonymous.add(
                base.child("cn", "SMS-Site-ANO"),
                attributes: [LDAPAttribute("objectClass", "mSSMSSite"), LDAPAttribute("mSSMSSiteCode", "ANO")]
            )
            Issue.record("an anonymous add must be refused")
        } catch {
            #expect(error.code == .strongAuthRequired || error.code == .insufficientAccessRights)
        }
        await #expect(throws: LDAPError.self) { try await anonymous.delete(base.child("cn", "SMS-Site-CEN")) }
        await anonymous.close()
    }

    // MARK: Range lookups

    @Test(arguments: [
        ("10.10.5.5/16", nil as String?, ["subnet CEN 10.10.0.0"]),
        ("10.10.5.5/24", nil, []),
        ("10.21.1.1/24", nil, ["range P01 10.21.0.1-10.21.3.254"]),
        ("10.21.3.255/24", nil, []),
        ("10.22.1.127/25", nil, ["range S01 10.22.1.0-10.22.1.127"]),
        ("10.99.0.1/16", "redmond-hq", ["adSite CEN Redmond-HQ"]),
        ("2001:db8:10::5/64", nil, ["ipv6Prefix CEN 2001:db8:10::/64"]),
        ("2001:db8:30::1/48", nil, []),
        ("2001:db8:10::5/48", nil, []),
    ])
    func theDirectoryFindsTheBoundariesContainingAClient(
        address: String,
        adSite: String?,
        expected: [String]
    ) async throws {
        let reader = try await Published.connect(Published.corp, as: .anonymous)
        let matches = try await BoundaryLookup.matches(
            for: try ClientAddress(address),
            adSite: adSite,
            in: Published.corpLayout,
            on: reader
        )
        #expect(Set(matches.map { "\($0.kind.rawValue) \($0.site) \($0.value)" }) == Set(expected))
        await reader.close()
    }

    @Test func theOrderingFilterAgreesWithTheBlocks() async throws {
        let reader = try await Published.connect(Published.corp, as: .anonymous)
        for text in ["10.21.0.1", "10.21.3.254", "10.21.2.7", "10.21.0.0", "10.22.1.64"] {
            let address = try #require(IPv4Address(text))
            let byBlocks = try await reader.search(
                base: Published.corpLayout.systemManagement,
                filter: BoundaryLookup.rangeFilter(for: address),
                attributes: ["1.1"]
            )
            let byOrdering = try await reader.search(
                base: Published.corpLayout.systemManagement,
                filter: BoundaryLookup.orderingRangeFilter(for: address),
                attributes: ["1.1"]
            )
            #expect(Set(byBlocks.map(\.dn)) == Set(byOrdering.map(\.dn)), "\(text)")
        }
        await reader.close()
    }
}

/// The operation must be refused with insufficient access (and not fail for another reason).
func expectDenied(
    _ operation: () async throws -> Void,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) async throws {
    do {
        try await operation()
        Issue.record("the directory allowed what it must refuse", sourceLocation: sourceLocation)
    } catch {
        #expect((error as? LDAPError)?.code == .insufficientAccessRights, "\(error)", sourceLocation: sourceLocation)
    }
}

extension Publishing {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Tools written for Active Directory find the published objects under their Microsoft names.
    @Test func ldapsearchFindsWhatADToolsLookFor() async throws {
        let uri = try #require(try Published.current().forests().first { $0.name == Published.corp }?.uri)
        let base = Published.corpLayout.suffix.string
        func ldapsearch(_ filter: String, _ attributes: [String]) async throws -> String {
            try await ProcessControl.run(
                "/usr/bin/ldapsearch",
                ["-x", "-LLL", "-o", "ldif-wrap=no", "-H", uri, "-b", base, filter] + attributes
            )
        }
        let mps = try await ldapsearch(
            "(objectClass=mSSMSManagementPoint)",
            ["dNSHostName", "mSSMSSiteCode", "mSSMSDefaultMP"]
        )
        #expect(mps.contains("dNSHostName: cen-mp.corp.contoso.com") && mps.contains("mSSMSDefaultMP: TRUE"))
        #expect(
            try await ldapsearch("(&(objectClass=mSSMSSite)(mSSMSRoamingBoundaries=Paris))", ["mSSMSSiteCode"])
                .contains(
                    "mSSMSSiteCode: P01"
                )
        )
        let address = try #require(IPv4Address("10.21.2.7")).value
        let ranges = try await ldapsearch(
            "(&(objectClass=mSSMSRoamingBoundaryRange)(mSSMSRangedIPLow<=\(address))(mSSMSRangedIPHigh>=\(address)))",
            ["mSSMSSiteCode"]
        )
        #expect(ranges.contains("dn: cn=SMS-P01-10.21.0.1-10.21.3.254"))
    }

    @Test(.timeLimit(.minutes(2)))
    func ldap3WithSchemaCheckingFindsThemToo() async throws {
        let venv = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-ldap3-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: venv) }
        _ = try await ProcessControl.run("/usr/bin/env", ["python3", "-m", "venv", venv])
        _ = try await ProcessControl.run(venv + "/bin/pip", ["install", "--quiet", "ldap3"])
        let uri = try #require(try Published.current().forests().first { $0.name == Published.corp }?.uri)
        let address = try #require(IPv4Address("10.22.1.100")).value
        let output = try await ProcessControl.run(
            venv + "/bin/python",
            [
                Self.repository.appendingPathComponent("scripts/interop/ad_tool_queries.py").path, uri,
                Published.corpLayout.systemManagement.string, "Redmond-HQ", "10.20.0.0", String(address),
            ]
        )
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let mps = try #require(json["managementPoints"] as? [[String: Any]])
        let cen = try #require(mps.first { $0["mSSMSSiteCode"] as? String == "CEN" })
        #expect(cen["dNSHostName"] as? String == "cen-mp.corp.contoso.com")
        #expect(cen["mSSMSMPName"] as? String == "cen-mp.corp.contoso.com")
        #expect(cen["mSSMSDefaultMP"] as? Bool == true)
        #expect(cen["mSSMSVersion"] as? Int == 4)
        #expect((cen["mSSMSCapabilities"] as? String)?.contains("SMSSITECODE=CEN") == true)
        #expect(Set(mps.compactMap { $0["mSSMSSiteCode"] as? String }) == ["CEN", "P01", "S01"])
        #expect(json["byADSite"] as? [String] == ["CEN"])
        #expect(json["bySubnet"] as? [String] == ["P01"])
        let ranges = try #require(json["byRange"] as? [[Any]])
        #expect(ranges.count == 1)
        #expect(ranges.first?.first as? String == "S01")
    }
}

/// Publishing survives its directory being killed at any point: running it again converges.
@Suite(.timeLimit(.minutes(3)))
struct InterruptedPublishing {
    @Test func killingTheDirectoryMidRunThenRerunningConverges() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "siteloc-interrupt-\(UUID().uuidString)"
        )
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        let hierarchy = HierarchyGenerator.hierarchy(sites: 200, boundariesPerSite: 20)
        let expected = hierarchy.sites.reduce(0) { $0 + SitePublication.entries(for: $1, in: hierarchy).count }
        try await lab.up(hierarchy: hierarchy)
        do {
            let forest = try #require(lab.forests().first)
            let pid = try #require(forest.pid)
            let layout = DirectoryLayout(forest: forest.name)
            let connector = try lab.deployment(for: hierarchy).siteConnector()
            let run = Task {
                try await Publisher.run(hierarchy.sites, in: hierarchy, concurrency: 4, connect: connector)
            }
            let reader = try await lab.connect(to: forest.name, as: .anonymous)
            var published = 0
            while published < expected / 4 {
                published = try await reader.searchAllPages(
                    base: layout.systemManagement,
                    scope: .oneLevel,
                    filter: .present("mSSMSSiteCode"),
                    attributes: ["1.1"]
                ).count
            }
            kill(pid, SIGKILL)
            await #expect(throws: (any Error).self) { _ = try await run.value }

            try await lab.up(hierarchy: hierarchy)
            _ = try await Publisher.run(
                hierarchy.sites,
                in: hierarchy,
                connect: try lab.deployment(for: hierarchy).siteConnector()
            )
            let again = try await Publisher.run(
                hierarchy.sites,
                in: hierarchy,
                connect: try lab.deployment(for: hierarchy).siteConnector()
            )
            #expect(again.allSatisfy { $0.changes.isEmpty })
            let after = try await lab.connect(to: forest.name, as: .anonymous)
            let total = try await after.searchAllPages(
                base: layout.systemManagement,
                scope: .oneLevel,
                filter: .present("mSSMSSiteCode"),
                attributes: ["1.1"]
            ).count
            #expect(total == expected)
            #expect(published < expected, "the directory was killed before publishing finished")
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
    }
}
