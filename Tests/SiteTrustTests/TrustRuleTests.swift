import Foundation
import HierarchyFile
import SiteModel
import Testing

@testable import SiteTrust

/// Each cross-forest rule, broken alone by a one-line change to a compliant three-forest hierarchy. The same cases
/// make the table in the README (a test keeps it equal), so the table cannot drift from what is checked.
@Suite struct TrustRuleTests {
    /// examples/three-forests.yaml.
    static let compliant: String = {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/three-forests.yaml")
        return (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }()

    struct Case: Sendable, CustomTestStringConvertible {
        var rule: TrustRule
        /// The README's one-line example.
        var example: String
        var replace: String
        var with: String
        var testDescription: String { rule.rawValue }
    }

    static let cases: [Case] = [
        Case(
            rule: .serverOS,
            example: "fabrikam.com's site servers run Windows 2000: `serverOS: windows2000`",
            replace: "{name: fabrikam.com, functionalLevel: windows2008, serverOS: windows2008}",
            with: "{name: fabrikam.com, functionalLevel: windows2008, serverOS: windows2000}"
        ),
        Case(
            rule: .forestFunctionalLevel,
            example: "fabrikam.com is still at the interim level: `functionalLevel: windows2003interim`",
            replace: "{name: fabrikam.com, functionalLevel: windows2008,",
            with: "{name: fabrikam.com, functionalLevel: windows2003interim,"
        ),
        Case(
            rule: .noTransitiveTrust,
            example: "corp.contoso.com and fabrikam.com trust each other only externally: `type: external`",
            replace: "[corp.contoso.com, fabrikam.com], type: forest, transitive: true",
            with: "[corp.contoso.com, fabrikam.com], type: external, transitive: false"
        ),
        Case(
            rule: .oneWayTrust,
            example: "the forest trust runs one way: `direction: oneWay` (a warning; the check still passes)",
            replace: "[corp.contoso.com, fabrikam.com], type: forest, transitive: true, direction: twoWay",
            with: "[corp.contoso.com, fabrikam.com], type: forest, transitive: true, direction: oneWay"
        ),
        Case(
            rule: .secondarySiteInOtherForest,
            example: "secondary S02 of P02 (fabrikam.com) is placed in corp.contoso.com: `forest: corp.contoso.com`",
            replace: "parent: P02\n    forest: fabrikam.com",
            with: "parent: P02\n    forest: corp.contoso.com"
        ),
        Case(
            rule: .roleNotSupportedAcrossForest,
            example:
                "CEN's system in fabrikam.com also runs a reporting point: `roles: [systemHealthValidator, reportingPoint]`",
            replace: "roles: [systemHealthValidator]",
            with: "roles: [systemHealthValidator, reportingPoint]"
        ),
    ]

    static func report(_ yaml: String) throws -> TrustReport {
        let result = HierarchyReader.read(yaml)
        try #require(result.errors.isEmpty, "\(result.errors)")
        return TrustCheck.check(result.hierarchy, facts: ForestFacts(hierarchy: result.hierarchy))
    }

    @Test func aCompliantThreeForestHierarchyIsClean() throws {
        let report = try Self.report(Self.compliant)
        #expect(report.ok)
        #expect(report.violations.isEmpty && report.warnings.isEmpty, "\(report.violations) \(report.warnings)")
        #expect(
            report.crossings.map { "\($0.kind.rawValue) \($0.from)→\($0.to)" }
                == [
                    "site-system CEN→shv.fabrikam.com", "site-link P02→CEN", "site-link P03→CEN",
                    "site-system P03→ibcm.corp.contoso.com",
                ]
        )
    }

    @Test(arguments: cases)
    func eachRuleIsReportedAloneByItsName(_ rule: Case) throws {
        #expect(Self.compliant.contains(rule.replace), "the case's text is not in the hierarchy")
        let report = try Self.report(Self.compliant.replacingOccurrences(of: rule.replace, with: rule.with))
        let found = Set((report.violations + report.warnings).map(\.rule))
        #expect(found == [rule.rule], "\(report.violations + report.warnings)")
        #expect(report.ok == rule.rule.isWarning)
        for finding in report.violations + report.warnings {
            #expect(!finding.message.isEmpty && !finding.fix.isEmpty)
        }
    }

    @Test func trustsDoNotChainThroughAThirdForest() throws {
        // P03 (tailspin.com) moved under P02 (fabrikam.com): both trust corp.contoso.com, not each other.
        var hierarchy = HierarchyReader.read(Self.compliant).hierarchy
        let index = try #require(hierarchy.sites.firstIndex { $0.code.rawValue == "P03" })
        hierarchy.sites[index].parent = try SiteCode("P02")
        let report = TrustCheck.check(hierarchy, facts: ForestFacts(hierarchy: hierarchy))
        #expect(Set(report.violations.map(\.rule)) == [.noTransitiveTrust])
        #expect(report.violations.first?.forests == ["tailspin.com", "fabrikam.com"])
    }

    @Test func theJSONHasTheSpecsFields() throws {
        let yaml = Self.compliant.replacingOccurrences(
            of: "parent: P02\n    forest: fabrikam.com",
            with: "parent: P02\n    forest: corp.contoso.com"
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try #require(
            try JSONSerialization.jsonObject(with: try encoder.encode(try Self.report(yaml))) as? [String: Any]
        )
        #expect(json["ok"] as? Bool == false)
        let violation = try #require((json["violations"] as? [[String: Any]])?.first)
        #expect(violation["rule"] as? String == "secondary-site-in-other-forest")
        #expect(violation["site"] as? String == "S02")
        #expect(violation["system"] is NSNull)
        #expect(violation["forests"] as? [String] == ["corp.contoso.com", "fabrikam.com"])
        #expect((json["warnings"] as? [Any])?.isEmpty == true)
    }

    @Test func directoryRecordsBecomeFacts() throws {
        let hierarchy = HierarchyReader.read(Self.compliant).hierarchy
        let corp = try ForestName("corp.contoso.com")
        let fabrikam = try ForestName("fabrikam.com")
        let records = [
            ForestRecord(
                forest: corp,
                behaviorVersion: 2,
                trustedDomains: [.init(partner: "fabrikam.com", direction: 3, type: 2, attributes: 8)],
                siteServerSystems: ["cen-ss.corp.contoso.com": "Windows Server 2003"]
            ),
            ForestRecord(
                forest: fabrikam,
                behaviorVersion: 1,
                trustedDomains: [.init(partner: "corp.contoso.com", direction: 3, type: 2, attributes: 1)],
                siteServerSystems: [
                    "p02-ss.fabrikam.com": "Windows Server 2008 R2", "s02-ss.fabrikam.com": "Windows 2000 Server",
                ]
            ),
        ]
        let facts = ForestFacts(records: records, hierarchy: hierarchy)
        #expect(facts.functionalLevels[corp] == .windows2003)
        #expect(facts.functionalLevels[fabrikam] == .windows2003interim)
        #expect(facts.serverOS[fabrikam] == .windows2000)  // the oldest site server counts
        #expect(facts.trusts.count == 1 && facts.trusts[0].transitive == false)  // one side says non-transitive
        #expect(ForestFacts.serverOS("Windows Server 2019 Datacenter") == .windows2008r2)
        #expect(ForestFacts.serverOS("Ubuntu") == nil)
        #expect(ForestFacts.functionalLevel(7) == .windows2008r2)
    }

    /// The table of rules in docs/trust-rules.md is this suite's cases, rendered.
    @Test func theDocumentedTableIsTheseCases() throws {
        let document = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/trust-rules.md"),
            encoding: .utf8
        )
        let table = Self.documentedTable()
        #expect(document.contains(table), "docs/trust-rules.md's rule table differs; expected:\n\(table)")
    }

    static func documentedTable() -> String {
        var lines = [
            "<!-- trust-rules: generated from Tests/SiteTrustTests/TrustRuleTests.swift; a test keeps them equal -->",
            "| rule | kind | a one-line change to a compliant hierarchy that breaks it |",
            "| --- | --- | --- |",
        ]
        for rule in cases {
            lines.append(
                "| `\(rule.rule.rawValue)` | \(rule.rule.isWarning ? "warning" : "violation") | \(rule.example) |"
            )
        }
        return lines.joined(separator: "\n")
    }
}
