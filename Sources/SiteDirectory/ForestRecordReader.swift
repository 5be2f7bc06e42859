import DirectorySchema
public import LDAPKit
public import SiteModel

/// Reads a forest's ``ForestRecord`` from its directory: three searches, anonymous reads are enough.
public enum ForestRecordReader {
    public static func read(
        _ forest: ForestName,
        siteServers: [String],
        on connection: LDAPConnection
    ) async throws(LDAPError) -> ForestRecord {
        let layout = DirectoryLayout(forest: forest)
        let partitions = try await connection.search(
            base: layout.partitions,
            scope: .base,
            attributes: [SchemaAttribute.behaviorVersion]
        )
        let trusts = try await connection.search(
            base: layout.system,
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.objectClass, SchemaClass.trustedDomain),
            attributes: [
                SchemaAttribute.trustPartner, SchemaAttribute.trustDirection, SchemaAttribute.trustType,
                SchemaAttribute.trustAttributes,
            ]
        )
        let wanted = Set(siteServers.map { $0.lowercased() })
        let computers = try await connection.search(
            base: layout.computers,
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.objectClass, SchemaClass.computer),
            attributes: [SchemaAttribute.dnsHostName, SchemaAttribute.operatingSystem]
        )
        var systems: [String: String] = [:]
        for computer in computers {
            guard let host = computer.first(SchemaAttribute.dnsHostName)?.lowercased(), wanted.contains(host),
                let system = computer.first(SchemaAttribute.operatingSystem)
            else { continue }
            systems[host] = system
        }
        return ForestRecord(
            forest: forest,
            behaviorVersion: partitions.first?.first(SchemaAttribute.behaviorVersion).flatMap { Int($0) },
            trustedDomains: trusts.compactMap { entry in
                guard let partner = entry.first(SchemaAttribute.trustPartner) else { return nil }
                return ForestRecord.TrustedDomain(
                    partner: partner.lowercased(),
                    direction: entry.first(SchemaAttribute.trustDirection).flatMap { Int($0) } ?? 0,
                    type: entry.first(SchemaAttribute.trustType).flatMap { Int($0) } ?? 0,
                    attributes: entry.first(SchemaAttribute.trustAttributes).flatMap { Int($0) } ?? 0
                )
            },
            siteServerSystems: systems
        )
    }
}
