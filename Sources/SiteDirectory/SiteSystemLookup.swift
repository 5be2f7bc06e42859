import DirectorySchema
public import LDAPKit
public import SiteModel

/// A site's default management point as its forest's directory publishes it.
public struct PublishedManagementPoint: Sendable, Hashable {
    public var site: SiteCode
    /// `mSSMSMPName`: the host clients talk to.
    public var host: String
    /// Whether `mSSMSMPAddress` is an `https://` address (a native-mode site).
    public var https: Bool

    public init(site: SiteCode, host: String, https: Bool) {
        self.site = site
        self.host = host
        self.https = https
    }
}

/// What a forest's directory says of its sites' systems: their default management points (what a roaming client
/// asks after its boundaries) and their public keys (what a site server asks before trusting a neighbour's job).
public enum SiteSystemLookup {
    /// The default management points of `sites`, one search. Entries without a readable site code or host are
    /// skipped: a hostile or damaged entry cannot make the answer fail, only shorter.
    public static func defaultManagementPoints(
        of sites: Set<SiteCode>,
        in layout: DirectoryLayout,
        in session: LDAPSession
    ) throws(LDAPError) -> [SiteCode: PublishedManagementPoint] {
        guard !sites.isEmpty else { return [:] }
        let found = try session.search(
            base: layout.systemManagement,
            scope: .oneLevel,
            filter: .and([
                .equal(SchemaAttribute.objectClass, SchemaClass.managementPoint),
                .equal(SchemaAttribute.defaultMP, "TRUE"),
                .or(sites.sorted().map { .equal(SchemaAttribute.siteCode, $0.rawValue) }),
            ]),
            attributes: [SchemaAttribute.siteCode, SchemaAttribute.mpName, SchemaAttribute.mpAddress]
        )
        var points: [SiteCode: PublishedManagementPoint] = [:]
        for entry in found {
            guard let code = entry.first(SchemaAttribute.siteCode).flatMap({ try? SiteCode($0) }), sites.contains(code),
                let host = entry.first(SchemaAttribute.mpName)
            else { continue }
            let https = entry.first(SchemaAttribute.mpAddress).map { ASCII.lowercased($0).hasPrefix("https://") }
            points[code] = PublishedManagementPoint(site: code, host: host, https: https ?? false)
        }
        return points
    }

    /// The values of the site object's `serviceBindingInformation` (where siteloc publishes the site server's public
    /// key); empty when the site is not published.
    public static func publishedKeys(
        of site: SiteCode,
        in layout: DirectoryLayout,
        in session: LDAPSession
    ) throws(LDAPError) -> [String] {
        do {
            return try session.search(
                base: layout.site(site),
                scope: .base,
                attributes: [SchemaAttribute.serviceBindingInformation]
            ).first?[SchemaAttribute.serviceBindingInformation] ?? []
        } catch  where error.code == .noSuchObject {
            return []
        }
    }
}
