import Foundation
public import LDAPKit
import Logging
import SiteDirectory
import SiteModel

extension DirectoryServer {
    /// This server's part in its forest's multi-provider replication (docs/replication.md, "The container image"):
    /// its server ID, its peers as they are reached from here, and the replication identity's password, which is
    /// the same at every provider of the forest.
    public struct Replication: Sendable {
        public struct Peer: Sendable, Equatable {
            public var serverID: Int
            public var url: LDAPURI
        }

        public var serverID: Int
        public var peers: [Peer]
        public var password: Secret

        /// Checks what slapd cannot: IDs 1…4095, unique, the peers' URLs `ldap://` or `ldaps://` and free of what
        /// would break a cn=config value, and a password that can stand unquoted in one.
        public init(serverID: Int, peers: [Peer], password: Secret) throws(LabError) {
            guard Self.serverIDs.contains(serverID) else {
                throw LabError("the server ID must be a whole number from 1 to 4095, not \(serverID)", kind: .badInput)
            }
            guard !peers.isEmpty else { throw LabError("a replicated server needs at least one peer", kind: .badInput) }
            var seen: Set<Int> = [serverID]
            for peer in peers {
                guard Self.serverIDs.contains(peer.serverID), seen.insert(peer.serverID).inserted else {
                    throw LabError(
                        "peer \(peer.serverID) (\(peer.url)): every server of a forest needs its own ID from 1 to 4095",
                        kind: .badInput
                    )
                }
                guard peer.url.scheme != .ldapi, !peer.url.string.contains(where: Self.unsafeInConfig) else {
                    throw LabError(
                        "peer \(peer.serverID): \(peer.url) is not an ldap:// or ldaps:// URL",
                        kind: .badInput
                    )
                }
            }
            let text = String(decoding: password.bytes, as: UTF8.self)
            guard text.count >= 8, !text.contains(where: Self.unsafeInConfig) else {
                throw LabError(
                    "the replication password must be at least 8 printable characters without spaces, quotes or "
                        + "backslashes (slapd keeps it in its configuration)",
                    kind: .badInput
                )
            }
            self.serverID = serverID
            self.peers = peers
            self.password = password
        }

        /// Reads `SITELOC_PEERS`: space-separated `ID=URL` pairs, e.g. `2=ldap://corp2/ 3=ldap://corp3:389/`.
        public static func peers(from text: String) throws(LabError) -> [Peer] {
            var peers: [Peer] = []
            for pair in text.split(whereSeparator: \.isWhitespace) {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let id = Int(parts[0]) else {
                    throw LabError(
                        "the peer '\(pair)' is not of the form ID=URL, e.g. 2=ldap://corp2/",
                        kind: .badInput
                    )
                }
                do {
                    peers.append(Peer(serverID: id, url: try LDAPURI(String(parts[1]))))
                } catch {
                    throw LabError("the peer '\(pair)': \(error)", kind: .badInput)
                }
            }
            return peers
        }

        /// The server that makes the forest's base tree: the lowest ID. The others fill themselves from a peer,
        /// since entries made on two providers independently would collide when they meet.
        var isSeed: Bool { peers.allSatisfy { serverID < $0.serverID } }

        func settings() -> ReplicationSettings {
            ReplicationSettings(
                serverID: serverID,
                peers: peers.map { ($0.serverID, $0.url.string) },
                password: String(decoding: password.bytes, as: UTF8.self)
            )
        }

        private static let serverIDs = 1...4095

        private static func unsafeInConfig(_ character: Character) -> Bool {
            !character.isASCII || character.isWhitespace || character == "\"" || character == "\\"
                || character.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? true
        }
    }
}

extension DirectoryServer {
    /// Written once the seed has decided whether to make the base tree: later starts never make it again.
    package var seedDecisionFile: String { settings.dataFolder + "/seed-decided" }
    /// The replication identity's password, for `slappasswd -T` (0600, in the private data folder).
    package var replicationPasswordFile: String { settings.dataFolder + "/replication.password" }

    /// What this start does about the forest's base tree.
    package struct BaseTreePlan {
        /// Add the base entries that are missing (and the replication identity, with `replicatorHash`).
        var make = true
        var replicatorHash: String?
        /// The seed's first start found a peer holding the forest: it fills itself from there.
        var filledFromPeer = false
        /// The seed's decision is made; record it once provisioning succeeded.
        var decided = false
        var changes: [String] = []
    }

    /// Brings this server's replication settings to what it was told (cn=config over ldapi); with none, a server
    /// that replicated before stops.
    package func replicate(_ instance: SlapdInstance) async throws(LabError) -> [String] {
        guard let replication = settings.replication else {
            let stopped = try await instance.configureReplication(
                ReplicationSettings(serverID: 1, peers: [], password: "")
            )
            return stopped ? ["replication settings cleared: this server runs on its own"] : []
        }
        try PrivateFiles.write(replicationPasswordFile, String(decoding: replication.password.bytes, as: UTF8.self))
        guard try await instance.configureReplication(replication.settings()) else { return [] }
        let peers = replication.peers.map { "\($0.serverID) at \($0.url)" }.joined(separator: ", ")
        return ["replicating as server \(replication.serverID) with \(peers)"]
    }

    /// A server on its own adds whatever base entry is missing on every start. In a replicated forest only the
    /// seed makes the tree, once, and only when no peer it can reach holds the forest already (a seed started
    /// empty beside a peer with data fills itself from there, as every other server does).
    package func baseTree(_ instance: SlapdInstance) async throws(LabError) -> BaseTreePlan {
        guard let replication = settings.replication else { return BaseTreePlan() }
        guard replication.isSeed, !FileManager.default.fileExists(atPath: seedDecisionFile) else {
            return BaseTreePlan(make: false)
        }
        if let holder = await peerHoldingForest(replication, layout: instance.layout) {
            return BaseTreePlan(
                make: false,
                filledFromPeer: true,
                decided: true,
                changes: ["peer \(holder.serverID) at \(holder.url) holds the forest: filling from it"]
            )
        }
        return BaseTreePlan(
            replicatorHash: try await instance.passwordHash(of: replicationPasswordFile),
            decided: true,
            changes: ["made the forest's base tree and replication identity (the seed, lowest server ID)"]
        )
    }

    /// The first peer that lets the replication identity read the forest's root entry: it holds the forest.
    private func peerHoldingForest(_ replication: Replication, layout: DirectoryLayout) async -> Replication.Peer? {
        for peer in replication.peers {
            let access = DirectoryAccess(
                uris: [peer.url],
                credential: .password(dn: ReplicationSettings.identity(layout), replication.password)
            )
            guard let connection = try? await access.connect(logger: logger) else { continue }
            let root = try? await connection.search(base: layout.suffix, scope: .base, attributes: ["1.1"])
            await connection.close()
            if root?.isEmpty == false { return peer }
        }
        return nil
    }

    /// Where this server holds the replication identity and the given password does not bind as it, sets the
    /// password there; replication carries it to the peers, whose own settings say the new one after their next
    /// start.
    package func replicatorPassword(_ instance: SlapdInstance) async throws(LabError) -> [String] {
        guard let replication = settings.replication else { return [] }
        let identity = ReplicationSettings.identity(instance.layout)
        do {
            let admin = try await instance.connect(as: .admin)
            let present = try await admin.search(base: identity, scope: .base, attributes: ["1.1"])
            let probe = DirectoryAccess(
                uris: [instance.ldapiURI],
                credential: .password(dn: identity, replication.password),
                operationTimeout: .seconds(30)
            )
            var changes: [String] = []
            if !present.isEmpty, try await Self.refusesCredentials(probe, logger: logger) {
                let hash = try await instance.passwordHash(of: replicationPasswordFile)
                try await admin.modify(identity, [.replace("userPassword", [hash])])
                changes.append("set the replication identity's password")
            }
            await admin.close()
            return changes
        } catch let error as LDAPError where error.code == .noSuchObject {
            return []  // not here yet: it arrives from a peer
        } catch {
            throw LabError("cannot check the replication identity's password: \(error)")
        }
    }

    /// Whether the directory turns the configuration's credentials down (a typed helper: the compiler trap in
    /// DEVELOPERS.md).
    private static func refusesCredentials(
        _ access: DirectoryAccess,
        logger: Logger
    ) async throws(LDAPError) -> Bool {
        do {
            await (try await access.connect(logger: logger)).close()
            return false
        } catch {
            guard error.code == .invalidCredentials else { throw error }
            return true
        }
    }
}
