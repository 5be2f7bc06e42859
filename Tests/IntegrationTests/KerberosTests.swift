import DirectorySchema
import DirectoryServing
import Foundation
import HierarchyFile
import LDAPKit
import SiteDirectory
import SiteLab
import SiteModel
import Testing

/// Kerberos as Active Directory uses it (docs/kerberos.md), against the lab's own MIT KDCs and slapd: site servers
/// are computer accounts with keytabs and bind SASL GSSAPI, each as itself, several at once in one process; a
/// machine of a forest without a trust fails at the KDC, which names the cross-realm principal it lacks.
///
/// Kerberos reads one krb5.conf per process (``KerberosConfiguration``), so everything here runs in one lab, one
/// step after the other: a second lab in the same process would have realms of the same names at other ports.
@Suite(.timeLimit(.minutes(3))) struct KerberosIdentities {
    @Test func computerAccountsBindWithGSSAPIAndTrustsAreCrossRealmKeys() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-kerberos-\(UUID())")
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            // Three forests: corp ↔ fabrikam and fabrikam ↔ nwtraders, both two-way.
            let chained = try Self.hierarchy(
                trusts: Self.twoWay("corp.contoso.com", "fabrikam.com") + Self.twoWay("fabrikam.com", "nwtraders.com")
            )
            try await lab.up(hierarchy: chained)
            try await Self.siteServersBindAsTheirComputerAccountsAndWriteOnlyTheirOwnSite(lab, chained)
            try await Self.aTrustedForestsMachineReadsButNeverWritesWhateverItsName(lab, chained)
            try await Self.expectKDCRefusal(
                lab,
                chained,
                from: "P03",
                to: "CEN",
                missing: "krbtgt/CORP.CONTOSO.COM@NWTRADERS.COM"
            )
            try await Self.aKeytabOthersCanReadIsRefusedBeforeAnythingIsSent(lab, chained)

            // The same lab after the file changed: corp trusts fabrikam one way; fabrikam ↔ nwtraders is gone.
            let oneWay = try Self.hierarchy(trusts: Self.oneWay("corp.contoso.com", trusts: "fabrikam.com"))
            try await lab.up(hierarchy: oneWay)
            try await Self.expectBind(lab, oneWay, from: "P02", to: "CEN")
            try await Self.expectKDCRefusal(
                lab,
                oneWay,
                from: "CEN",
                to: "P02",
                missing: "krbtgt/FABRIKAM.COM@CORP.CONTOSO.COM"
            )
            try await Self.expectKDCRefusal(
                lab,
                oneWay,
                from: "P03",
                to: "P02",
                missing: "krbtgt/FABRIKAM.COM@NWTRADERS.COM"
            )

            // No trust at all: both KDCs lose the keys. Tickets already issued stay valid until they expire, as in
            // AD, so a machine that has none yet shows it: the KDC refuses before any LDAP rule is asked.
            let none = try Self.hierarchy(trusts: "")
            try await lab.up(hierarchy: none)
            for forest in ["corp.contoso.com", "fabrikam.com", "nwtraders.com"] {
                #expect(try await lab.realm(of: try ForestName(forest)).crossRealmPrincipals().isEmpty, "\(forest)")
            }
            let keytab = lab.directory.path + "/newcomer.keytab"
            try await lab.realm(of: try ForestName("fabrikam.com")).ensure([("NEWCOMER$", keytab)])
            let newcomer = try Self.access(lab, none, from: "P02", to: "CEN").as(
                .kerberos(principal: "NEWCOMER$@FABRIKAM.COM", keytab: URL(fileURLWithPath: keytab))
            )
            let error = await #expect(throws: LDAPError.self) {
                let connection = try await newcomer.connect(logger: TestLab.logger)
                await connection.close()
            }
            #expect("\(String(describing: error))".contains("krbtgt/CORP.CONTOSO.COM@FABRIKAM.COM"))
            try await Self.expectBind(lab, none, from: "P02", to: "P02")
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
    }

    static func twoWay(_ first: String, _ second: String) -> String {
        "  - {forests: [\(first), \(second)], type: forest, transitive: true, direction: twoWay}\n"
    }

    static func oneWay(_ first: String, trusts second: String) -> String {
        "  - {forests: [\(first), \(second)], type: forest, transitive: true, direction: oneWay}\n"
    }

    /// The example hierarchy with a third forest (nwtraders.com, site P03 below CEN) and `trusts` as its trusts.
    static func hierarchy(trusts: String) throws -> Hierarchy {
        var yaml = try String(
            contentsOf: ContentServices.repository.appendingPathComponent("examples/contoso.yaml"),
            encoding: .utf8
        )
        let trustsStart = try #require(yaml.range(of: "trusts:\n"))
        let sitesStart = try #require(yaml.range(of: "\nsites:\n"))
        yaml.replaceSubrange(
            trustsStart.lowerBound..<sitesStart.lowerBound,
            with: (trusts.isEmpty ? "trusts: []\n" : "trusts:\n" + trusts)
        )
        yaml = yaml.replacingOccurrences(
            of: "\ntrusts:",
            with: "  - {name: nwtraders.com, functionalLevel: windows2003, serverOS: windows2003}\n\ntrusts:"
        )
        yaml = yaml.replacingOccurrences(
            of: "\nsites:\n",
            with: """

                sites:
                  - code: P03
                    name: Northwind Traders
                    type: primary
                    parent: CEN
                    forest: nwtraders.com
                    server: p03-ss.nwtraders.com

                """
        )
        let read = HierarchyReader.read(yaml)
        try #require(read.errors.isEmpty, "\(read.errors)")
        return read.hierarchy
    }

    /// `from`'s site server binds to the directory of `to`'s forest.
    static func access(_ lab: Lab, _ hierarchy: Hierarchy, from: String, to: String) throws -> DirectoryAccess {
        let client = try site(from, hierarchy)
        return try lab.kerberosAccess(of: try site(to, hierarchy)).as(
            .kerberos(
                principal: Lab.computerPrincipal(of: client),
                keytab: URL(fileURLWithPath: lab.computerKeytab(of: client))
            )
        )
    }

    static func expectBind(_ lab: Lab, _ hierarchy: Hierarchy, from: String, to: String) async throws {
        let connection = try await access(lab, hierarchy, from: from, to: to).connect(logger: TestLab.logger)
        await connection.close()
    }

    static func expectKDCRefusal(
        _ lab: Lab,
        _ hierarchy: Hierarchy,
        from: String,
        to: String,
        missing principal: String
    ) async throws {
        let error = await #expect(throws: LDAPError.self, "\(from) → \(to)") {
            let connection = try await access(lab, hierarchy, from: from, to: to).connect(logger: TestLab.logger)
            await connection.close()
        }
        #expect("\(String(describing: error))".contains(principal), "\(from) → \(to): \(String(describing: error))")
    }

    /// Through the trust, fabrikam's site server binds to corp's directory and reads it, and may write nothing
    /// there; nor may a fabrikam principal that is named like corp's central site server.
    static func aTrustedForestsMachineReadsButNeverWritesWhateverItsName(
        _ lab: Lab,
        _ hierarchy: Hierarchy
    ) async throws {
        let layout = DirectoryLayout(forest: try ForestName("corp.contoso.com"))
        let p02 = try access(lab, hierarchy, from: "P02", to: "CEN")
        let connection = try await p02.connect(logger: TestLab.logger)
        let sites = try await connection.search(
            base: layout.systemManagement,
            scope: .subtree,
            filter: .equal(SchemaAttribute.objectClass, SchemaClass.site)
        )
        #expect(!sites.isEmpty)
        await connection.close()
        for claimed in ["CEN", "P02"] {
            let refused = await #expect(throws: LDAPError.self) { try await Self.add(claimed, as: p02, layout: layout) }
            #expect(refused?.code == .insufficientAccessRights, "\(String(describing: refused))")
        }
        // A principal of fabrikam called CEN-SS$ maps under ForeignSecurityPrincipals, not to CEN's computer.
        let fabrikam = lab.realm(of: try ForestName("fabrikam.com"))
        let keytab = lab.directory.path + "/impostor.keytab"
        try await fabrikam.ensure([("CEN-SS$", keytab)])
        let impostor = p02.as(.kerberos(principal: "CEN-SS$@FABRIKAM.COM", keytab: URL(fileURLWithPath: keytab)))
        let refused = await #expect(throws: LDAPError.self) { try await Self.add("CEN", as: impostor, layout: layout) }
        #expect(refused?.code == .insufficientAccessRights, "\(String(describing: refused))")
    }

    static func site(_ code: String, _ hierarchy: Hierarchy) throws -> Site {
        try #require(hierarchy.site(try SiteCode(code)))
    }

    /// An object under cn=System Management claiming `claimed` as its site, added as `access`'s identity.
    static func add(_ claimed: String, as access: DirectoryAccess, layout: DirectoryLayout) async throws {
        let connection = try await access.connect(logger: TestLab.logger)
        defer { Task { await connection.close() } }
        try await connection.add(
            layout.systemManagement.child("cn", "SMS-Site-Kerberos-\(claimed)-\(UUID().uuidString.prefix(8))"),
            attributes: [
                LDAPAttribute(SchemaAttribute.objectClass, [SchemaClass.site]),
                LDAPAttribute(SchemaAttribute.siteCode, [claimed]),
            ]
        )
    }

    static func siteServersBindAsTheirComputerAccountsAndWriteOnlyTheirOwnSite(
        _ lab: Lab,
        _ hierarchy: Hierarchy
    ) async throws {
        do {
            let layout = DirectoryLayout(forest: try ForestName("corp.contoso.com"))
            // The KDC runs with the forest, and every site server of the forest has a keytab only it can read.
            let status = try #require(lab.kerberosStatus(of: layout.forest))
            #expect(status.realm == "CORP.CONTOSO.COM" && status.running)
            for code in ["CEN", "P01", "S01"] {
                let keytab = lab.computerKeytab(of: try Self.site(code, hierarchy))
                let mode = try FileManager.default.attributesOfItem(atPath: keytab)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(keytab)")
            }
            // Three identities bound at once in this process, each allowed its own site and refused another's.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (code, other) in [("CEN", "P01"), ("P01", "S01"), ("S01", "CEN")] {
                    let access = try lab.kerberosAccess(of: try Self.site(code, hierarchy))
                    group.addTask {
                        try await Self.add(code, as: access, layout: layout)
                        let refused = await #expect(throws: LDAPError.self) {
                            try await Self.add(other, as: access, layout: layout)
                        }
                        #expect(
                            refused?.code == .insufficientAccessRights,
                            "\(code) writing \(other): \(String(describing: refused))"
                        )
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    static func aKeytabOthersCanReadIsRefusedBeforeAnythingIsSent(_ lab: Lab, _ hierarchy: Hierarchy) async throws {
        do {
            let cen = try Self.site("CEN", hierarchy)
            let keytab = lab.computerKeytab(of: cen)
            chmod(keytab, 0o644)
            let error = await #expect(throws: LDAPError.self) {
                _ = try await lab.kerberosAccess(of: cen).connect(logger: TestLab.logger)
            }
            #expect("\(String(describing: error))".contains("readable by others"), "\(String(describing: error))")
            chmod(keytab, 0o600)
            let connection = try await lab.kerberosAccess(of: cen).connect(logger: TestLab.logger)
            await connection.close()
        }
    }
}
