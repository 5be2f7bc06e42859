import Foundation
import HierarchyFile
import SiteModel
import Testing

@Suite struct HierarchyFileTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let example = repository.appendingPathComponent("examples/contoso.yaml").path

    /// A small valid hierarchy that each case below breaks in one way.
    static let base = """
        version: 1
        forests:
          - name: corp.contoso.com
            functionalLevel: windows2003
            serverOS: windows2003
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            boundaries:
              - subnet: 10.10.0.0/16
            systems:
              - host: cen-mp.corp.contoso.com
                roles: [managementPoint, distributionPoint]
            addresses:
              - to: P01
                sender: standard
                priority: 1
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            systems:
              - host: p01-mp.corp.contoso.com
                roles: [managementPoint]
            addresses:
              - to: CEN
                sender: standard
                priority: 1

        """

    @Test func theExampleHierarchyIsValid() {
        let result = HierarchyReader.read(file: Self.example)
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.hierarchy.sites.map(\.code.rawValue) == ["CEN", "P01", "S01", "P02", "S02"])
        #expect(result.hierarchy.forests.count == 2)
        let boundaries = result.hierarchy.sites.flatMap(\.boundaries).map(\.value)
        #expect(boundaries.contains { if case .range = $0 { true } else { false } })
        #expect(boundaries.contains { if case .ipv6Prefix = $0 { true } else { false } })
        #expect(boundaries.contains { if case .adSite = $0 { true } else { false } })
    }

    @Test func theBaseOfTheCasesIsValid() {
        let result = HierarchyReader.read(Self.base)
        #expect(result.problems.isEmpty, "\(result.problems)")
    }

    /// (what to change in the base, the line the error must name, words the message must contain)
    static let brokenCases: [(String, String, Int, String)] = [
        ("    functionalLevel: windows2003", "    functionalLevel: windows2012", 4, "functionalLevel 'windows2012'"),
        ("    serverOS: windows2003", "    serverOS: windows2003\n    colour: blue", 6, "unknown key 'colour'"),
        ("  - code: P01", "  - code: SMS", 20, "reserved"),
        ("  - code: P01", "  - code: CEN", 20, "site code CEN is used twice"),
        ("      - subnet: 10.10.0.0/16", "      - subnet: 10.10.0.1/16", 12, "host bits zero"),
        ("      - subnet: 10.10.0.0/16", "      - range: 10.10.0.9-10.10.0.1", 12, "runs backwards"),
        ("      - subnet: 10.10.0.0/16", "      - ipv6Prefix: 2001:db8::1/64", 12, "IPv6 prefix"),
        (
            "      - subnet: 10.10.0.0/16", "      - subnet: 10.10.0.0/16\n      - subnet: 10.10.0.0/16", 13,
            "appears twice"
        ),
        ("    parent: CEN", "    parent: XYZ", 20, "names parent XYZ"),
        ("    parent: CEN", "    parent: null", 20, "exactly one site without a parent"),
        (
            "    type: primary\n    parent: CEN", "    type: secondary\n    parent: CEN\n    mode: native", 20,
            "parent's mode"
        ),
        (
            "      - to: CEN\n        sender: standard", "      - to: XYZ\n        sender: standard", 29,
            "neither its parent nor a child"
        ),
        (
            "        sender: standard\n        priority: 1\n  - code: P01",
            "        sender: courier\n        priority: 1\n  - code: P01", 17, "needs a standard address"
        ),
        ("        roles: [managementPoint]", "        roles: [managementPoint, webServer]", 27, "role 'webServer'"),
        (
            "    server: cen-ss.corp.contoso.com",
            "    server: cen-ss.corp.contoso.com\n    defaultManagementPoint: nope.corp.contoso.com", 7,
            "defaultManagementPoint"
        ),
        (
            "        roles: [managementPoint, distributionPoint]",
            "        roles: [managementPoint]\n        protectedBoundaries: [10.10.0.0/16]", 14,
            "not a distributionPoint"
        ),
        (
            "    forest: corp.contoso.com\n    server: p01", "    forest: fabrikam.com\n    server: p01", 20,
            "forest fabrikam.com, which is not declared"
        ),
        ("version: 1", "version: 2", 1, "version 2 is not supported"),
        (
            "        priority: 1\n  - code: P01",
            "        priority: 1\n        schedule:\n          - hours: \"08-18\"\n            allow: closed\n          - hours: \"17-20\"\n            allow: all\n  - code: P01",
            23, "overlap"
        ),
    ]

    @Test(arguments: brokenCases)
    func eachMistakeIsNamedByLine(original: String, replacement: String, line: Int, words: String) {
        expectMistake(in: Self.base, replacing: original, with: replacement, at: line, saying: words)
    }

    @Test func aBrokenCopyOfTheExampleReportsEveryMistakeAtOnce() throws {
        var text = try String(contentsOfFile: Self.example, encoding: .utf8)
        text = text.replacingOccurrences(of: "  - code: S01\n", with: "  - code: S0!\n")
            .replacingOccurrences(of: "      - subnet: 10.30.0.0/16\n", with: "      - subnet: 10.30.0.0/33\n")
            .replacingOccurrences(of: "    publish: false\n", with: "    publish: false\n    publsh: true\n")
            .replacingOccurrences(of: "  - id: CEN20002\n", with: "  - id: CEN2000Z\n")
        let result = HierarchyReader.read(text)
        let messages = result.errors.map(\.message).joined(separator: "\n")
        #expect(messages.contains("'S0!' is not a site code"))
        #expect(messages.contains("subnet '10.30.0.0/33'"))
        #expect(messages.contains("unknown key 'publsh'"))
        #expect(messages.contains("advertisement id CEN2000Z"))
        #expect(result.errors.allSatisfy { $0.location.line > 0 })
    }

    @Test func yamlSyntaxErrorsHaveAPosition() {
        let result = HierarchyReader.read("version: 1\nforests: [\n")
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.location.line == 3)
    }

    @Test func warningsComeAfterErrorsAndDoNotFailAlone() {
        let text = Self.base.replacingOccurrences(
            of: "      - to: CEN\n        sender: standard\n        priority: 1\n",
            with: ""
        )
        let result = HierarchyReader.read(text)
        #expect(result.errors.isEmpty)
        #expect(result.warnings.contains { $0.message.contains("no address to its parent CEN") })
    }
}

@Suite struct AddressTests {
    @Test(arguments: [
        ("10.20.0.1-10.20.3.254", ["10.20.0.1/32", "10.20.0.2/31", "10.20.0.4/30", "10.20.0.8/29"]),
        ("10.0.0.0-10.0.0.255", ["10.0.0.0/24"]),
        ("0.0.0.0-255.255.255.255", ["0.0.0.0/0"]),
    ])
    func rangesTileIntoCIDRBlocks(text: String, firstBlocks: [String]) throws {
        let (low, high) = try #require(IPv4Range.parse(text))
        let range = try #require(IPv4Range(low: low, high: high))
        let blocks = range.cidrBlocks
        #expect(Array(blocks.map(\.description).prefix(firstBlocks.count)) == firstBlocks)
        #expect(blocks.reduce(0) { $0 + $1.span } == range.span)
    }

    @Test func anAddressIsInARangeExactlyWhenOneOfItsPrefixesIsABlock() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let a = UInt32.random(in: 0...UInt32.max, using: &generator)
            let b = UInt32.random(in: 0...UInt32.max, using: &generator)
            let range = IPv4Range(low: IPv4Address(min(a, b)), high: IPv4Address(max(a, b)))!
            let blocks = Set(range.cidrBlocks)
            #expect(range.cidrBlocks.count <= 62)
            for probe in [
                range.low.value, range.high.value, range.low.value &- 1, range.high.value &+ 1, a / 2 + b / 2,
            ] {
                let address = IPv4Address(probe)
                let found = !blocks.isDisjoint(with: address.enclosingNetworks)
                #expect(found == range.contains(address), "\(address) in \(range)")
            }
        }
    }

    @Test(arguments: [
        ("2001:DB8:10:0:0:0:0:0/64", "2001:db8:10::/64"), ("2001:db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128"),
        ("::/0", "::/0"), ("fe80::/10", "fe80::/10"),
    ])
    func ipv6PrefixesPrintInRFC5952Form(text: String, expected: String) throws {
        #expect(try #require(IPv6Network(text)).description == expected)
    }

    @Test(arguments: ["10.0.0", "10.0.0.256", "10.0.0.01", "a.b.c.d", "10.0.0.0.0", ""])
    func malformedIPv4IsRefused(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func subnetIDsUseTheClientsOwnPrefixLength() throws {
        let client = try #require(IPv4Address("10.10.7.9"))
        #expect(client.masked(to: 24).description == "10.10.7.0")
        #expect(client.masked(to: 16).description == "10.10.0.0")
    }
}

/// Changes `original` in `file` to `replacement` and expects an error at `line` whose message holds `words`.
func expectMistake(
    in file: String,
    replacing original: String,
    with replacement: String,
    at line: Int,
    saying words: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    #expect(file.contains(original), "the case must change the file", sourceLocation: sourceLocation)
    let result = HierarchyReader.read(file.replacingOccurrences(of: original, with: replacement))
    #expect(
        result.errors.contains { $0.location.line == line && $0.message.contains(words) },
        "expected an error at line \(line) about '\(words)', got \(result.errors)",
        sourceLocation: sourceLocation
    )
}
