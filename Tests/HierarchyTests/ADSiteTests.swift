import Foundation
import HierarchyFile
import SiteModel
import Testing

/// The hierarchy file's `adSites` (docs/hierarchy-file.md) and the DC locator's rule for an address's AD site.
@Suite struct ADSiteTests {
    static let file = """
        version: 1
        forests:
          - name: corp.contoso.com
            functionalLevel: windows2003
            serverOS: windows2003
            adSites:
              - name: Paris
                subnets: [10.40.0.0/16, 2001:db8:40::/48]
              - name: Lyon
                subnets: [10.40.1.0/24]
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            boundaries:
              - adSite: paris
            systems:
              - {host: cen-mp.corp.contoso.com, roles: [managementPoint]}
        """

    @Test func adSitesAreReadWithTheirSubnets() throws {
        let result = HierarchyReader.read(Self.file)
        #expect(result.problems.isEmpty, "\(result.problems)")
        let forest = try #require(result.hierarchy.forests.first)
        #expect(forest.adSites.map(\.name) == ["Paris", "Lyon"])
        #expect(forest.adSites[0].subnets.map(\.description) == ["10.40.0.0/16", "2001:db8:40::/48"])
        #expect(forest.adSite(named: "PARIS")?.name == "Paris")
    }

    /// (what to change, the line the error must name, words the message must contain)
    static let mistakes: [(String, String, Int, String)] = [
        ("subnets: [10.40.1.0/24]", "subnets: [10.40.1.1/24]", 10, "host bits zero"),
        ("subnets: [10.40.1.0/24]", "subnets: [10.40.1.0/33]", 10, "not a valid subnet"),
        ("subnets: [10.40.1.0/24]", "subnets: [2001:db8:40::1/48]", 10, "not a valid subnet"),
        ("subnets: [10.40.1.0/24]", "subnets: [10.40.0.0/16]", 9, "already a subnet of AD site Paris"),
        ("      - name: Lyon", "      - name: PARIS", 9, "declared twice"),
        ("      - name: Lyon", "      - name: Lyon Sud", 9, "not valid"),
        ("      - name: Lyon", "      - name: -Lyon", 9, "not valid"),
        ("      - adSite: paris", "      - adSite: London", 17, "names no AD site of forest corp.contoso.com"),
        ("      - name: Lyon", "      - nom: Lyon", 9, "unknown key 'nom'"),
    ]

    @Test(arguments: mistakes)
    func eachMistakeIsNamedByLine(original: String, replacement: String, line: Int, words: String) {
        expectMistake(in: Self.file, replacing: original, with: replacement, at: line, saying: words)
    }

    @Test func aForestWithoutADSitesTakesAnyADSiteBoundary() {
        var text = Self.file
        for line in ["    adSites:", "      - name: Paris", "        subnets: [10.40.0.0/16, 2001:db8:40::/48]"] {
            text = text.replacingOccurrences(of: line + "\n", with: "")
        }
        text = text.replacingOccurrences(of: "      - name: Lyon\n        subnets: [10.40.1.0/24]\n", with: "")
        let result = HierarchyReader.read(text)
        #expect(result.errors.isEmpty, "\(result.errors)")
    }

    static func subnets(_ pairs: [(String, String)]) -> [(subnet: ADSubnet, site: String)] {
        pairs.map { (ADSubnet($0.0)!, $0.1) }
    }

    @Test func theLongestSubnetHoldingTheAddressDecides() throws {
        let map = Self.subnets([
            ("10.0.0.0/8", "Hub"), ("10.40.0.0/16", "Paris"), ("10.40.1.0/24", "Lyon"), ("10.40.1.7/32", "Desk"),
            ("2001:db8:40::/48", "Paris"), ("2001:db8:40:1::/64", "Lyon"),
        ])
        func site(_ address: String) throws -> String? {
            ADSiteDecision.site(of: try ClientAddress(address), among: map)?.site
        }
        #expect(try site("10.40.7.7/24") == "Paris")
        #expect(try site("10.40.1.5/24") == "Lyon")
        #expect(try site("10.40.1.7/16") == "Desk")  // the client's own prefix length plays no part
        #expect(try site("10.99.0.1/24") == "Hub")
        #expect(try site("192.0.2.1/24") == nil)
        #expect(try site("2001:db8:40::5/64") == "Paris")
        #expect(try site("2001:db8:40:1::5/64") == "Lyon")
        #expect(try site("2001:db8:41::5/64") == nil)
        // An IPv4 subnet never holds an IPv6 address, even ::/0's worth of one.
        #expect(
            ADSiteDecision.site(of: try ClientAddress("::1/128"), among: Self.subnets([("0.0.0.0/0", "All")])) == nil
        )
    }

    @Test func theEnclosingNamesAreEveryPrefixLongestFirst() throws {
        let v4 = ADSubnet.enclosing(try ClientAddress("10.40.1.7/24")).map(\.description)
        #expect(v4.count == 33)
        #expect(v4.first == "10.40.1.7/32" && v4.last == "0.0.0.0/0" && v4.contains("10.40.0.0/16"))
        let v6 = ADSubnet.enclosing(try ClientAddress("2001:db8:40::5/64")).map(\.description)
        #expect(v6.count == 129 && v6.contains("2001:db8:40::/48") && v6.last == "::/0")
    }
}
