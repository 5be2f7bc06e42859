import DirectorySchema
import Foundation
import LDAPKit
import SiteDirectory

extension SlapdInstance {
    package var rootDSEFile: String { folder + "/rootdse.ldif" }

    /// Writes this server's root DSE file and has slapd read it; true when it changed. The functional level is
    /// `behaviorVersion` when given, else what this server's `cn=Partitions` holds.
    package func publishRootDSE(serverID: Int, behaviorVersion: Int? = nil) async throws -> Bool {
        // The local owner manages cn=config and, as everyone may, reads cn=Partitions: one connection for both.
        let owner = try await connect(as: .localOwner)
        do {
            var level = behaviorVersion
            if level == nil {
                let partitions = try? await owner.search(
                    base: layout.partitions,
                    scope: .base,
                    attributes: [SchemaAttribute.behaviorVersion]
                )
                level = partitions?.first?.first(SchemaAttribute.behaviorVersion).flatMap { Int($0) }
            }
            let rootDSE = ADRootDSE(forest: layout.forest, serverID: serverID, behaviorVersion: level)
            let changed = try await pointAtRootDSE(rootDSE, owner: owner)
            await owner.close()
            return changed
        } catch {
            await owner.close()
            throw error
        }
    }

    private func pointAtRootDSE(_ rootDSE: ADRootDSE, owner: LDAPConnection) async throws -> Bool {
        let config = try DistinguishedName(parsing: "cn=config")
        let current = try await owner.search(base: config, scope: .base, attributes: ["olcRootDSE"]).first
        let pointed = current?.first("olcRootDSE") == rootDSEFile
        let written = (try? String(contentsOfFile: rootDSEFile, encoding: .utf8)) == rootDSE.ldif
        if pointed && written { return false }
        // slapd reads the file as it runs (and at every start), so it must be readable by the slapd user.
        try rootDSE.ldif.write(toFile: rootDSEFile, atomically: true, encoding: .utf8)
        chmod(rootDSEFile, 0o644)
        // A replace of olcRootDSE by its own value is refused; taking it away and giving it back rereads the file.
        try await owner.modify(
            config,
            (pointed ? [LDAPModification.delete("olcRootDSE")] : []) + [.add("olcRootDSE", [rootDSEFile])]
        )
        return true
    }

    /// Adds the root DSE's server objects that are missing (for every server of the forest), on this server.
    package func addServerObjects(_ serverIDs: [Int]) async throws {
        let admin = try await connect(as: .admin)
        do {
            for entry in ADRootDSE.serverEntries(serverIDs, in: layout) {
                try await Self.addIfAbsent(entry.dn, entry.attributes, on: admin)
            }
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
    }
}
