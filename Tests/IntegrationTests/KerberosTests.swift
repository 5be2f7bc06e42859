import DirectorySchema
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
    @Test func computerAccountsBindWithGSSAPIAndTheKDCDecidesWhoGetsIn() async throws {
        try await Self.withLab { lab, hierarchy in
            try await Self.siteServersBindAsTheirComputerAccountsAndWriteOnlyTheirOwnSite(lab, hierarchy)
            try await Self.aMachineOfAnotherForestWithoutATrustFailsAtTheKDC(lab, hierarchy)
            try await Self.aKeytabOthersCanReadIsRefusedBeforeAnythingIsSent(lab, hierarchy)
        }
    }

    static func withLab(_ body: (Lab, Hierarchy) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-kerberos-\(UUID())")
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        let hierarchy = try Published.example()
        do {
            try await lab.up(hierarchy: hierarchy)
            try await body(lab, hierarchy)
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
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
                var info = stat()
                #expect(stat(keytab, &info) == 0 && info.st_mode & 0o077 == 0, "\(keytab)")
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

    static func aMachineOfAnotherForestWithoutATrustFailsAtTheKDC(_ lab: Lab, _ hierarchy: Hierarchy) async throws {
        do {
            let corp = try lab.kerberosAccess(of: try Self.site("CEN", hierarchy))
            let p02 = try Self.site("P02", hierarchy)
            let foreign = corp.as(
                .kerberos(
                    principal: Lab.computerPrincipal(of: p02),
                    keytab: URL(fileURLWithPath: lab.computerKeytab(of: p02))
                )
            )
            let error = await #expect(throws: LDAPError.self) { _ = try await foreign.connect(logger: TestLab.logger) }
            #expect(
                "\(String(describing: error))".contains("krbtgt/CORP.CONTOSO.COM@FABRIKAM.COM"),
                "\(String(describing: error))"
            )
            // Its own forest's directory takes it.
            let own = try lab.kerberosAccess(of: p02)
            let connection = try await own.connect(logger: TestLab.logger)
            await connection.close()
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
