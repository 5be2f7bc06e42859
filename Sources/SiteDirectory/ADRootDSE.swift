import DirectorySchema
public import LDAPKit
public import SiteModel

/// The root DSE attributes Active Directory's clients read before anything else (docs/active-directory.md):
/// the naming contexts, the server's DNS name and its object under `cn=Servers`, the functional levels and
/// `isSynchronized`. slapd serves them from an LDIF file named by `olcRootDSE`; each server of a forest writes
/// its own (server k is `dc<k>.<forest>`).
public struct ADRootDSE: Sendable, Equatable {
    public let layout: DirectoryLayout
    public let serverID: Int
    /// The forest's `msDS-Behavior-Version`; nil while this server does not hold it yet (a replica that has not
    /// filled itself), when the root DSE says no functional level rather than a wrong one.
    public let behaviorVersion: Int?

    public init(forest: ForestName, serverID: Int, behaviorVersion: Int?) {
        layout = DirectoryLayout(forest: forest)
        self.serverID = serverID
        self.behaviorVersion = behaviorVersion
    }

    public var hostName: String { "dc\(serverID).\(layout.forest)" }

    /// `cn=DC<k>,cn=Servers,cn=Default-First-Site-Name,cn=Sites,cn=Configuration,…`.
    public static func serverObject(_ serverID: Int, in layout: DirectoryLayout) -> DistinguishedName {
        layout.servers.child("cn", "DC\(serverID)")
    }

    /// The root DSE file's text.
    public var ldif: String {
        var lines = [
            "dn:",
            "\(SchemaAttribute.defaultNamingContext): \(layout.suffix)",
            "\(SchemaAttribute.rootDomainNamingContext): \(layout.suffix)",
            "\(SchemaAttribute.configurationNamingContext): \(layout.configuration)",
            "\(SchemaAttribute.dnsHostName): \(hostName)",
            "\(SchemaAttribute.serverName): \(Self.serverObject(serverID, in: layout))",
        ]
        if let behaviorVersion {
            for attribute in [
                SchemaAttribute.domainFunctionality, SchemaAttribute.forestFunctionality,
                SchemaAttribute.domainControllerFunctionality,
            ] {
                lines.append("\(attribute): \(behaviorVersion)")
            }
        }
        lines.append("\(SchemaAttribute.isSynchronized): TRUE")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `server` objects the root DSE names, one for each of `serverIDs`, under the base tree's `cn=Servers`.
    /// Made by the server that makes the forest's base tree (replication carries them to the others).
    public static func serverEntries(_ serverIDs: [Int], in layout: DirectoryLayout) -> [DesiredEntry] {
        serverIDs.map { id in
            .named(
                serverObject(id, in: layout),
                SchemaClass.server,
                [LDAPAttribute(SchemaAttribute.dnsHostName, "dc\(id).\(layout.forest)")]
            )
        }
    }
}
