import DirectorySchema
public import LDAPKit
public import Logging

/// Whether a directory holds the schema siteloc needs, and installing it into a running slapd (what
/// `extadsch.exe` does for Active Directory).
public enum SchemaInstallation {
    /// The classes whose presence means "the schema is extended" for clients (docs/roaming-and-content.md, step 1).
    public static let configurationManagerClasses = [
        SchemaClass.site, SchemaClass.managementPoint, SchemaClass.serverLocatorPoint, SchemaClass.roamingBoundaryRange,
    ]

    /// The names from ``DirectorySchema`` that the subschema lacks.
    public static func missingDefinitions(in subschema: Subschema) -> [String] {
        DirectorySchema.attributeTypes.map(\.name).filter { subschema.attributeType($0) == nil }
            + DirectorySchema.objectClasses.map(\.name).filter { subschema.objectClass($0) == nil }
    }

    /// Whether clients can find Configuration Manager objects here: the four classes exist.
    public static func isExtended(_ subschema: Subschema) -> Bool {
        subschema.defines(objectClasses: configurationManagerClasses)
    }

    public enum Outcome: Sendable, Equatable {
        case installed
        case updated
        case alreadyCurrent
    }

    /// Adds (or brings up to date) `cn=siteloc,cn=schema,cn=config` and the indexes on every back-mdb database.
    /// The connection must have write access to cn=config (SASL EXTERNAL as root over ldapi, or the config
    /// database's root DN).
    public static func install(
        on connection: LDAPConnection,
        indexes: Bool = true,
        logger: Logger
    ) async throws(LDAPError) -> Outcome {
        let schemaBase = DistinguishedName([
            RelativeDistinguishedName("cn", "schema"), RelativeDistinguishedName("cn", "config"),
        ])
        let existing = try await connection.search(
            base: schemaBase,
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.objectClass, "olcSchemaConfig"),
            attributes: ["cn", "olcAttributeTypes", "olcObjectClasses"]
        ).first { entry in
            entry["cn"].contains { stripOrdinal($0) == DirectorySchema.entryName }
        }
        let wantedTypes = DirectorySchema.attributeTypes.map(\.definition)
        let wantedClasses = DirectorySchema.objectClasses.map(\.definition)
        let outcome: Outcome
        if let existing {
            let haveTypes = existing["olcAttributeTypes"].map(stripOrdinal)
            let haveClasses = existing["olcObjectClasses"].map(stripOrdinal)
            if haveTypes == wantedTypes && haveClasses == wantedClasses {
                outcome = .alreadyCurrent
            } else {
                let dn = try parse(existing.dn)
                try await connection.modify(
                    dn,
                    [.replace("olcAttributeTypes", wantedTypes), .replace("olcObjectClasses", wantedClasses)]
                )
                outcome = .updated
            }
        } else {
            try await connection.add(
                schemaBase.child("cn", DirectorySchema.entryName),
                attributes: [
                    LDAPAttribute(SchemaAttribute.objectClass, "olcSchemaConfig"),
                    LDAPAttribute(SchemaAttribute.cn, DirectorySchema.entryName),
                    LDAPAttribute("olcAttributeTypes", wantedTypes),
                    LDAPAttribute("olcObjectClasses", wantedClasses),
                ]
            )
            outcome = .installed
        }
        logger.info("schema \(outcome)", metadata: ["schema.version": "\(DirectorySchema.version)"])
        if indexes { try await installIndexes(on: connection, logger: logger) }
        return outcome
    }

    /// Adds the schema's indexes that each back-mdb database lacks. slapd builds the new indexes in the
    /// background.
    public static func installIndexes(on connection: LDAPConnection, logger: Logger) async throws(LDAPError) {
        let config = DistinguishedName([RelativeDistinguishedName("cn", "config")])
        let databases = try await connection.search(
            base: config,
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.objectClass, "olcMdbConfig"),
            attributes: ["olcDbIndex", "olcSuffix"]
        )
        for database in databases {
            let present = Set(database["olcDbIndex"].map { $0.split(separator: " ").first.map(String.init) ?? $0 })
            let missing = DirectorySchema.indexes.filter { !present.contains($0.attribute) }
            guard !missing.isEmpty else { continue }
            try await connection.modify(
                try parse(database.dn),
                [.add("olcDbIndex", missing.map { "\($0.attribute) \($0.types)" })]
            )
            logger.info(
                "indexes added",
                metadata: [
                    "ldap.dn": "\(database.dn)", "indexes": "\(missing.map(\.attribute).joined(separator: ","))",
                ]
            )
        }
    }

    /// cn=config returns values with an ordinal prefix: `{3}siteloc`, `{0}( 1.2.3 NAME … )`.
    public static func stripOrdinal(_ value: String) -> String {
        guard value.hasPrefix("{"), let close = value.firstIndex(of: "}") else { return value }
        return String(value[value.index(after: close)...])
    }

    private static func parse(_ dn: String) throws(LDAPError) -> DistinguishedName {
        do {
            return try DistinguishedName(parsing: dn)
        } catch {
            throw LDAPError(code: .invalidDNSyntax, operation: .modify, dn: dn)
        }
    }
}
