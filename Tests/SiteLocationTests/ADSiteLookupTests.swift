import LDAPKit
import SiteDirectory
import SiteLocation
import SiteModel
import Synchronization
import Testing

/// What a client makes of the subnet objects its directory returns; a crafted answer decides nothing.
@Suite struct ADSiteLookupTests {
    static let layout = DirectoryLayout(forest: try! ForestName("corp.contoso.com"))

    static func subnet(_ name: String, site: String?) -> LDAPEntry {
        var attributes = [LDAPAttribute("cn", name)]
        if let site { attributes.append(LDAPAttribute("siteObject", site)) }
        return LDAPEntry(dn: "cn=\(name),\(layout.subnets)", attributes: attributes)
    }

    @Test func theSiteIsTheCNOfTheLongestSubnetsSiteObject() throws {
        let paris = Self.layout.adSite("Paris").description
        let lyon = Self.layout.adSite("Lyon").description
        let learned = ADSiteLookup.decide(
            try ClientAddress("10.40.1.5/24"),
            among: [Self.subnet("10.40.0.0/16", site: paris), Self.subnet("10.40.1.0/24", site: lyon)]
        )
        #expect(learned?.site == "Lyon")
        #expect(learned?.subnetDN == "cn=10.40.1.0/24,\(Self.layout.subnets)")
    }

    @Test func craftedSubnetObjectsArePassedOver() throws {
        let paris = Self.layout.adSite("Paris").description
        let crafted = [
            Self.subnet("10.40.1.0/24", site: nil),  // no site
            Self.subnet("10.40.1.0/25", site: "not a DN"),
            Self.subnet("10.40.1.0/26", site: "ou=Lyon,cn=Sites"),  // names no cn
            Self.subnet("10.40.1.0/27", site: "cn=,cn=Sites"),  // an empty name
            Self.subnet("10.40.1.1/28", site: paris),  // host bits set: no subnet name
            Self.subnet("10.40.1.0/99", site: paris),
            Self.subnet("Paris", site: paris),
            Self.subnet("10.41.0.0/16", site: paris),  // does not hold the address
        ]
        #expect(ADSiteLookup.decide(try ClientAddress("10.40.1.5/24"), among: crafted) == nil)
        let honest = crafted + [Self.subnet("10.40.0.0/16", site: paris)]
        #expect(ADSiteLookup.decide(try ClientAddress("10.40.1.5/24"), among: honest)?.site == "Paris")
    }

    @Test func theSearchAsksForEveryPrefixByNameUnderSubnets() throws {
        let request = ADSiteLookup.request(for: try ClientAddress("10.40.1.5/24"), in: Self.layout)
        #expect(request.base == Self.layout.subnets)
        let filter = request.filter.string
        #expect(filter.contains("(cn=10.40.1.5/32)") && filter.contains("(cn=10.40.0.0/16)"))
        #expect(filter.contains("(cn=0.0.0.0/0)") && filter.contains("(objectClass=subnet)"))
    }
}

/// A management point that records what it was asked.
final class RecordingManagementPoint: ManagementPoint {
    let host: String
    let site: SiteCode
    private let requests = Mutex<[ContentRequest]>([])

    init(host: String, site: SiteCode) {
        self.host = host
        self.site = site
    }

    var asked: [ContentRequest] { requests.withLock { $0 } }

    func locateContent(_ request: ContentRequest) async throws -> ContentAnswer {
        requests.withLock { $0.append(request) }
        return ContentAnswer(distributionPoints: [], trace: [])
    }
}

@Suite struct LearnedADSiteInContentRequests {
    /// The AD site a client learned from its subnets is what it tells its management point, as a Windows client
    /// reports the site DsGetSiteName gave it; one it was given wins.
    @Test(arguments: [(nil, "Paris"), ("Lyon", "Lyon")] as [(String?, String)])
    func theManagementPointHearsTheClientsADSite(given: String?, told: String) async throws {
        let learned = LearnedADSite(
            site: "Paris",
            subnet: try #require(ADSubnet("10.40.0.0/16")),
            subnetDN: "cn=10.40.0.0/16,cn=Subnets,cn=Sites,cn=Configuration,dc=corp,dc=contoso,dc=com"
        )
        let directory = FakeDirectory(answer: .answered([], residentManagementPoints: [:], learnedADSite: learned))
        let recorder = RecordingManagementPoint(host: "cen-mp.corp.contoso.com", site: try SiteCode("CEN"))
        let locator = Locator(
            hierarchy: LocatorTests.hierarchy,
            managementPoints: { host in host == recorder.host ? recorder : nil },
            directory: { _ in directory }
        )
        _ = try await locator.content(
            ClientProfile(
                address: try ClientAddress("10.40.7.7/24"),
                assignedSite: try SiteCode("CEN"),
                membership: .forest("corp.contoso.com"),
                adSite: given
            ),
            packageID: "CEN00001",
            advertisement: nil
        )
        #expect(recorder.asked.map(\.adSite) == [told])
    }
}
