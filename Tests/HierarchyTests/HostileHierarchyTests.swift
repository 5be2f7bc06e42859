import BlockingWork
import Foundation
import HierarchyFile
import SiteModel
import Testing

/// Hierarchy files written to hurt: each is refused with a located error, never crashes the reader, and takes time
/// in proportion to its size (the time limit fails a reader that is quadratic, cubic or expands aliases).
@Suite(.timeLimit(.minutes(1))) struct HostileHierarchies {
    static func errors(_ yaml: String) -> [String] {
        HierarchyReader.read(yaml).errors.map(\.message)
    }

    static let laughs = (1...9).map { level in
        "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]"
    }.joined(separator: "\n")

    static let laughsHead = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + laughs + "\n"

    @Test(arguments: [
        "version: 1:0:0:0:0:0:0:0:0:0:0",
        "version: 99999999999999999999999",
        "version: 0x10",
        "version: '1'",
    ])
    func integersAreReadFromTheirTextWithoutOverflow(version: String) {
        let problems = Self.errors(HierarchyFileTests.base.replacingOccurrences(of: "version: 1", with: version))
        #expect(problems.contains { $0.contains("expected a whole number") }, "\(problems)")
    }

    @Test func everyIntegerFieldRefusesBase60() {
        let yaml = HierarchyFileTests.base.replacingOccurrences(
            of: "priority: 1",
            with: "priority: 1:0:0:0:0:0:0:0:0:0"
        )
        #expect(
            Self.errors(yaml).contains { $0.contains("priority is '1:0:0:0:0:0:0:0:0:0'; expected a whole number") }
        )
    }

    @Test func aDuplicatedSiteSharingABoundaryIsReportedNotACrash() {
        let yaml = """
            version: 1
            forests: [{name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}]
            sites:
              - {code: AAA, type: primary, forest: corp.contoso.com, server: aaa.corp.contoso.com, boundaries: [adSite: x]}
              - {code: BBB, type: primary, parent: AAA, forest: corp.contoso.com, server: bbb.corp.contoso.com}
              - {code: BBB, type: primary, parent: AAA, forest: corp.contoso.com, server: bbc.corp.contoso.com,
                 boundaries: [adSite: x]}
            """
        let result = HierarchyReader.read(yaml)
        #expect(result.errors.contains { $0.message.contains("site code BBB is used twice") })
        #expect(result.warnings.contains { $0.message.contains("belongs to sites AAA and BBB") })
    }

    @Test(arguments: ["? *a9\n: x\n", "*a9 : x\n", "x: {*a9 : y}\n", "x:\n  - ? [a, b]\n    : c\n"])
    func aliasesAndComplexKeysAreRefusedWhereKeysGo(tail: String) {
        let problems = Self.errors(Self.laughsHead + tail)
        #expect(problems.count == 1 && problems[0].contains("expected plain keys"), "\(problems)")
    }

    @Test func aliasesMayNotExpandTheFileBeyondTenfold() {
        let problems = Self.errors(Self.laughsHead + "sites: *a9\n")
        #expect(problems.count == 1 && problems[0].contains("aliases expand this file"), "\(problems)")
    }

    @Test func aliasesThatRepeatALittleStillWork() {
        let yaml = HierarchyFileTests.base.replacingOccurrences(
            of: "            addresses:\n              - to: CEN",
            with: "            addresses:\n              - &up\n                to: CEN"
        )
        #expect(Self.errors(yaml).isEmpty, "\(Self.errors(yaml))")
        #expect(Self.errors("# a comment with *alias: and ? marks\n" + HierarchyFileTests.base).isEmpty)
        let quoted = HierarchyFileTests.base.replacingOccurrences(
            of: "code: CEN\n",
            with: "code: CEN\n    name: '*not: an alias'\n"
        )
        #expect(Self.errors(quoted).isEmpty, "\(Self.errors(quoted))")
    }

    /// A chain of primaries, each the parent of the next: the cycle check walks it once.
    @Test func aLongChainValidatesInLinearTime() async {
        // Seconds of work: on the blocking executor, not on a cooperative thread other tests' tasks need.
        await withBlockingWork { Self.validateALongChain() }
    }

    static func validateALongChain() {
        var yaml = "version: 1\nforests: [{name: c.com, functionalLevel: windows2003, serverOS: windows2003}]\nsites:\n"
        for index in 0..<8_000 {
            let parent = index == 0 ? "" : ", parent: \(Self.code(index - 1))"
            yaml += "  - {code: \(Self.code(index)), type: primary, forest: c.com, server: s\(index).c.com\(parent)}\n"
        }
        let result = HierarchyReader.read(yaml)
        #expect(result.errors.isEmpty, "\(result.errors.prefix(3))")
        #expect(result.hierarchy.sites.count == 8_000)
    }

    /// Many children of one parent: the neighbour and mode lookups are by dictionary.
    @Test func manySitesUnderOneParentValidateInLinearTime() async {
        await withBlockingWork { Self.validateManySitesUnderOneParent() }
    }

    static func validateManySitesUnderOneParent() {
        var yaml = "version: 1\nforests: [{name: c.com, functionalLevel: windows2003, serverOS: windows2003}]\nsites:\n"
        yaml += "  - {code: \(Self.code(0)), type: primary, forest: c.com, server: s0.c.com}\n"
        for index in 1..<46_000 {
            yaml +=
                "  - {code: \(Self.code(index)), type: secondary, parent: \(Self.code(0)), forest: c.com, server: s\(index).c.com}\n"
        }
        let result = HierarchyReader.read(yaml)
        #expect(result.errors.isEmpty, "\(result.errors.prefix(3))")
        #expect(result.hierarchy.sites.count == 46_000)
    }

    /// Three characters A-Z 0-9 from an index: 46,656 codes.
    static func code(_ index: Int) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let code = String([alphabet[index / 1296 % 36], alphabet[index / 36 % 36], alphabet[index % 36]])
        return ["AUX", "CON", "NUL", "PRN", "SMS"].contains(code) ? "Z" + code.dropFirst() : code
    }

    @Test(arguments: [
        "cen-ss\\u0000.corp.contoso.com", "cen-ss\\n.corp.contoso.com", "cen*().corp.contoso.com",
        "cen,ss.corp.contoso.com", "cn=cen.corp.contoso.com", "cen\\\\ss.corp.contoso.com", "-cen.corp.contoso.com",
        "cen..corp.contoso.com", "\\u212Aen.corp.contoso.com",
    ])
    func serversAndHostsMustBeDNSNames(name: String) {
        for key in ["server: cen-ss.corp.contoso.com", "host: cen-mp.corp.contoso.com"] {
            let field = key.prefix { $0 != ":" }
            let yaml = HierarchyFileTests.base.replacingOccurrences(of: key, with: "\(field): \"\(name)\"")
            let problems = Self.errors(yaml)
            #expect(problems.contains { $0.contains("is not a DNS host name") }, "\(field) \(name): \(problems)")
        }
    }

    @Test func siteServersOfOneForestNeedDifferentFirstLabels() {
        let yaml = HierarchyFileTests.base.replacingOccurrences(
            of: "server: p01-ss.corp.contoso.com",
            with: "server: cen-ss.branch.corp.contoso.com"
        )
        #expect(Self.errors(yaml).contains { $0.contains("both start with 'cen-ss' in forest corp.contoso.com") })
    }

    @Test func aCodeValidOnlyAfterUnicodeUpperCasingIsRefusedAndTheRestOfTheSiteIsStillChecked() {
        let yaml = HierarchyFileTests.base.replacingOccurrences(of: "code: P01", with: "code: ßa")
            .replacingOccurrences(of: "server: p01-ss.corp.contoso.com", with: "server: p01 ss")
            .replacingOccurrences(
                of: "host: p01-mp.corp.contoso.com",
                with:
                    "host: cen-mp.corp.contoso.com\n        roles: [managementPoint]\n      - host: cen-mp.corp.contoso.com"
            )
        let problems = Self.errors(yaml)
        #expect(problems.contains { $0.contains("'ßa' is not a site code") }, "\(problems)")
        #expect(problems.contains { $0.contains("server 'p01 ss' is not a DNS host name") }, "\(problems)")
        #expect(problems.contains { $0.contains("appears twice in site ßa") }, "\(problems)")
    }
}
