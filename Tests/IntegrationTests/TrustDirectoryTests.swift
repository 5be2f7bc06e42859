import DirectoryServing
import Foundation
import HierarchyFile
import LDAPKit
import Logging
import SiteDirectory
import SiteLab
import SiteModel
import SiteTestKit
import Testing

/// `siteloc trust check --from-directory` against a lab of three forests: it follows what the directories say,
/// not the file, and an unreachable forest is exit 3 naming the forest and the URIs tried.
@Suite(.timeLimit(.minutes(3))) struct TrustFromDirectory {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/three-forests.yaml").path

    static func check(
        _ hierarchy: String,
        lab: String
    ) async throws -> (status: Int32, json: [String: Any]?, error: String) {
        let run = try await CommandLine.siteloc([
            "trust", "check", "--from-directory", "--hierarchy", hierarchy, "--dir", lab, "--json",
        ])
        let json = try? JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any]
        return (run.status, json, run.error)
    }

    static func rules(_ json: [String: Any]?) -> [String] {
        ((json?["violations"] as? [[String: Any]]) ?? []).compactMap { $0["rule"] as? String }
    }

    @Test func theCheckFollowsChangesMadeOnlyInTheDirectories() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-trust-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lab = Lab(directory: folder.path, logger: Logger(label: "test"))
        let result = HierarchyReader.read(file: Self.example)
        try #require(result.errors.isEmpty)
        // The lab is stopped whatever happens: a leaked slapd or smbd would outlive the test run.
        do {
            try await checks(lab: lab, folder: folder, forests: try await lab.up(hierarchy: result.hierarchy).count)
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
    }

    private func checks(lab: Lab, folder: URL, forests: Int) async throws {
        #expect(forests == 3, "a lab of three forests")

        var checked = try await Self.check(Self.example, lab: folder.path)
        #expect(checked.status == 0, "\(checked.error)")
        #expect(checked.json?["ok"] as? Bool == true)
        #expect((checked.json?["crossings"] as? [Any])?.count == 4)

        let fabrikam = try ForestName("fabrikam.com")
        let corp = try ForestName("corp.contoso.com")
        let fabrikamAdmin = try await lab.connect(to: fabrikam, as: .admin)
        let corpAdmin = try await lab.connect(to: corp, as: .admin)
        let fabrikamLayout = DirectoryLayout(forest: fabrikam)
        let corpLayout = DirectoryLayout(forest: corp)

        // The functional level, lowered in fabrikam.com's directory only.
        try await fabrikamAdmin.modify(fabrikamLayout.partitions, [.replace("msDS-Behavior-Version", ["1"])])
        checked = try await Self.check(Self.example, lab: folder.path)
        #expect(checked.status == 1)
        #expect(Set(Self.rules(checked.json)) == ["forest-functional-level"])
        let fromFile = try await CommandLine.siteloc(["trust", "check", "--hierarchy", Self.example])
        #expect(fromFile.status == 0, "the file still says windows2008")
        try await fabrikamAdmin.modify(fabrikamLayout.partitions, [.replace("msDS-Behavior-Version", ["3"])])

        // The trust, made non-transitive on both sides.
        try await corpAdmin.modify(corpLayout.trustedDomain(fabrikam), [.replace("trustAttributes", ["1"])])
        try await fabrikamAdmin.modify(fabrikamLayout.trustedDomain(corp), [.replace("trustAttributes", ["1"])])
        checked = try await Self.check(Self.example, lab: folder.path)
        #expect(checked.status == 1)
        #expect(Set(Self.rules(checked.json)) == ["no-transitive-trust"])
        // Forest-transitive again, but one way only: a warning.
        for (connection, layout, partner, direction) in [
            (corpAdmin, corpLayout, fabrikam, "2"), (fabrikamAdmin, fabrikamLayout, corp, "1"),
        ] {
            try await connection.modify(
                layout.trustedDomain(partner),
                [.replace("trustAttributes", ["8"]), .replace("trustDirection", [direction])]
            )
        }
        checked = try await Self.check(Self.example, lab: folder.path)
        #expect(checked.status == 0)
        let warnings = ((checked.json?["warnings"] as? [[String: Any]]) ?? []).compactMap { $0["rule"] as? String }
        #expect(warnings.contains("one-way-trust"), "\(warnings)")

        // A site server's computer entry says Windows 2000.
        try await fabrikamAdmin.modify(
            fabrikamLayout.computer(host: "s02-ss.fabrikam.com"),
            [.replace("operatingSystem", ["Windows 2000 Server"])]
        )
        checked = try await Self.check(Self.example, lab: folder.path)
        #expect(checked.status == 1)
        #expect(Set(Self.rules(checked.json)) == ["server-os"])
        await fabrikamAdmin.close()
        await corpAdmin.close()

        // A forest whose directory does not answer: exit 3 with the forest and the URI.
        let port = try SilentListener.closedPort()
        let unreachable = folder.appendingPathComponent("unreachable.yaml").path
        try String(contentsOfFile: Self.example, encoding: .utf8)
            .replacingOccurrences(
                of: "{name: tailspin.com, functionalLevel: windows2003, serverOS: windows2003}",
                with: "{name: tailspin.com, functionalLevel: windows2003, serverOS: windows2003,"
                    + " directory: [\"ldap://127.0.0.1:\(port)\"]}"
            )
            .write(toFile: unreachable, atomically: true, encoding: .utf8)
        checked = try await Self.check(unreachable, lab: folder.path)
        #expect(checked.status == 3)
        #expect(
            checked.error.contains("tailspin.com") && checked.error.contains("ldap://127.0.0.1:\(port)"),
            "\(checked.error)"
        )
    }
}
