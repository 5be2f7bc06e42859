import DirectorySchema
public import LDAPKit
public import SiteModel

/// Publishes sites into their forests' directories as a diff (docs/directory.md): each site's objects
/// are brought to exactly what the hierarchy says, through the site's own identity, and nothing else is touched.
public enum Publisher {
    /// What publishing did, or would do, for one site.
    public struct SiteReport: Sendable {
        public var site: SiteCode
        public var publishes: Bool
        public var changes: [DirectoryChange]

        public var added: Int { changes.count { if case .add = $0 { true } else { false } } }
        public var modified: Int { changes.count { if case .modify = $0 { true } else { false } } }
        public var deleted: Int { changes.count { if case .delete = $0 { true } else { false } } }
    }

    /// Opens a connection bound as the site's identity in the site's forest.
    public typealias Connector = @Sendable (Site) async throws -> LDAPConnection

    /// The changes that bring `site`'s objects to `wanted`: what the directory holds for the site code, diffed.
    public static func plan(
        _ site: Site,
        wanted: [DesiredEntry],
        publicKey: String?,
        on connection: LDAPConnection
    ) async throws -> [DirectoryChange] {
        let layout = DirectoryLayout(forest: site.forest)
        let present = try await connection.searchAllPages(
            base: layout.systemManagement,
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.siteCode, site.code.rawValue),
            pageSize: 1000
        )
        return EntryDiff.changes(
            wanted: wanted,
            present: present,
            unmanaged: publicKey == nil ? [SchemaAttribute.serviceBindingInformation] : []
        )
    }

    /// Publishes (or, with `unpublish`, removes) each site, `concurrency` sites at a time; a site whose directory
    /// server goes away mid-way (the connection drops) is published again through a new connection, up to
    /// `attempts` times. `publicKey` gives a
    /// site's signing key (`ed25519:…`) for `serviceBindingInformation`; a site without one keeps what is there. With `dryRun` nothing
    /// is written and the reports carry the changes that would be made.
    public static func run(
        _ sites: [Site],
        in hierarchy: Hierarchy,
        unpublish: Bool = false,
        dryRun: Bool = false,
        concurrency: Int = 8,
        attempts: Int = 3,
        connect: @escaping Connector,
        publicKey: @escaping @Sendable (SiteCode) -> String? = { _ in nil },
        progress: (@Sendable (Int) -> Void)? = nil
    ) async throws -> [SiteReport] {
        try await withThrowingTaskGroup(of: SiteReport.self) { group in
            var next = 0
            var reports: [SiteReport] = []
            func submit() {
                let site = sites[next]
                next += 1
                group.addTask {
                    let key = publicKey(site.code)
                    let wanted = unpublish ? [] : SitePublication.entries(for: site, in: hierarchy, publicKey: key)
                    // A provider that dies mid-site is left for the next one that answers, and the site is planned
                    // and applied again there: a diff, so what already arrived is not done twice
                    // (docs/replication.md, "Writes").
                    let connectSite = { try await connect(site) }
                    return try await LDAPConnection.withFailover(attempts: attempts, connect: connectSite) {
                        connection in
                        let changes = try await plan(site, wanted: wanted, publicKey: key, on: connection)
                        if !dryRun { try await ChangeApplier.apply(changes, on: connection) }
                        return SiteReport(site: site.code, publishes: site.publish && !unpublish, changes: changes)
                    }
                }
            }
            for _ in 0..<min(concurrency, sites.count) { submit() }
            while let report = try await group.next() {
                reports.append(report)
                progress?(reports.count)
                if next < sites.count { submit() }
            }
            let order = Dictionary(uniqueKeysWithValues: sites.enumerated().map { ($0.element.code, $0.offset) })
            return reports.sorted { order[$0.site, default: 0] < order[$1.site, default: 0] }
        }
    }
}
