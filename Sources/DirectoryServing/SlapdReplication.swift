import DirectorySchema
import Foundation
package import LDAPKit
package import SiteDirectory

/// One provider's part in N-way multi-provider replication of a forest's database (OpenLDAP's syncrepl, RFC 4533;
/// docs/replication.md): its own `olcServerID`, one `olcSyncrepl` consumer per peer (refreshAndPersist, retrying
/// every second for ever), `olcMultiProvider`, `entryCSN`/`entryUUID` indexed (without them `contextCSN` is only
/// written at a clean shutdown), and unlimited searches for the replication identity, which reads everything and
/// writes nothing.
package struct ReplicationSettings: Sendable {
    /// 1…4095, unique in the forest.
    package var serverID: Int
    /// The other providers: server ID and URL, exactly as each listens (a URL that matches none of slapd's
    /// listeners is the one pitfall that makes slapd replicate from itself).
    package var peers: [(serverID: Int, url: String)]
    /// The replication identity's password (the same at every provider of the forest).
    package var password: String

    package init(serverID: Int, peers: [(serverID: Int, url: String)], password: String) {
        self.serverID = serverID
        self.peers = peers
        self.password = password
    }

    /// `cn=replicator,<suffix>`: reads the whole database, nothing else.
    package static func identity(_ layout: DirectoryLayout) -> DistinguishedName {
        layout.suffix.child("cn", "replicator")
    }

    package func syncrepl(_ layout: DirectoryLayout) -> [String] {
        peers.map { peer in
            "rid=\(String(format: "%03d", peer.serverID)) provider=\(peer.url) bindmethod=simple"
                + " binddn=\"\(Self.identity(layout))\" credentials=\(password) searchbase=\"\(layout.suffix)\""
                + " type=refreshAndPersist retry=\"1 +\" timeout=2 network-timeout=2"
        }
    }
}

extension SlapdInstance {
    /// Brings cn=config to `settings` (as the local owner over ldapi), changing only what differs: a changed
    /// consumer restarts, an unchanged one keeps replicating. True when something changed.
    @discardableResult
    package func configureReplication(_ settings: ReplicationSettings) async throws(LabError) -> Bool {
        do {
            // Dropping the connection on an error unbinds it.
            let owner = try await connect(as: .localOwner)
            let config = try DistinguishedName(parsing: "cn=config")
            var changedServerID = false
            let global = try await owner.search(base: config, scope: .base, attributes: ["olcServerID"]).first
            if global?.first("olcServerID").map(SchemaInstallation.stripOrdinal) != String(settings.serverID) {
                try await owner.modify(config, [.replace("olcServerID", [String(settings.serverID)])])
                changedServerID = true
            }
            guard
                let database = try await owner.search(
                    base: config,
                    scope: .oneLevel,
                    filter: .equal(SchemaAttribute.objectClass, "olcMdbConfig"),
                    attributes: ["olcSuffix", "olcSyncrepl", "olcMultiProvider", "olcDbIndex", "olcLimits"]
                ).first(where: { $0.first("olcSuffix")?.lowercased() == layout.suffix.string.lowercased() })
            else { throw LabError("forest \(layout.forest) has no database for \(layout.suffix)") }
            let identity = ReplicationSettings.identity(layout).string
            var changes: [LDAPModification] = []
            let indexes = database["olcDbIndex"]
            for index in ["entryCSN eq", "entryUUID eq"] where !indexes.contains(index) {
                changes.append(.add("olcDbIndex", [index]))
            }
            let limit = "dn.exact=\"\(identity)\" size=unlimited time=unlimited"
            if !database["olcLimits"].map(SchemaInstallation.stripOrdinal).contains(limit) {
                changes.append(.add("olcLimits", [limit]))
            }
            let wanted = settings.syncrepl(layout)
            if database["olcSyncrepl"].map(SchemaInstallation.stripOrdinal) != wanted {
                // The consumers go first: slapd refuses multi-provider without one.
                if database.first("olcMultiProvider") != nil && wanted.isEmpty {
                    changes.append(.replace("olcMultiProvider", []))
                }
                changes.append(.replace("olcSyncrepl", wanted))
                if !wanted.isEmpty { changes.append(.replace("olcMultiProvider", ["TRUE"])) }
            }
            if !changes.isEmpty { try await owner.modify(try database.distinguishedName, changes) }
            await owner.close()
            return changedServerID || !changes.isEmpty
        } catch let error as LabError {
            throw error
        } catch {
            throw LabError("cannot configure replication of forest \(layout.forest) over \(ldapiURI): \(error)")
        }
    }

    /// The database's `contextCSN` values (one per provider that wrote), read as the admin; empty when slapd does
    /// not answer.
    package func contextCSN() async -> [String] {
        guard let admin = try? await connect(as: .admin) else { return [] }
        let entry = try? await admin.search(base: layout.suffix, scope: .base, attributes: ["contextCSN"]).first
        await admin.close()
        return (entry?["contextCSN"] ?? []).sorted()
    }
}
