import DirectorySchema
public import LDAPKit
public import SiteModel

/// A published boundary that contains a client, as the directory answers it.
public struct BoundaryMatch: Sendable, Hashable {
    public enum Kind: String, Sendable, Codable { case subnet, range, ipv6Prefix, adSite }

    public var kind: Kind
    /// As published: the subnet ID, `low-high`, `prefix/len`, or the AD site name.
    public var value: String
    public var site: SiteCode
    /// How many addresses the match spans (for the most-specific rule); nil for an AD site. A subnet match
    /// spans 2^(32 − the client's own prefix length): the directory holds only the subnet ID.
    public var span: UInt64?
    /// The object it was found on.
    public var dn: String

    public init(kind: Kind, value: String, site: SiteCode, span: UInt64?, dn: String) {
        self.kind = kind
        self.value = value
        self.site = site
        self.span = span
        self.dn = dn
    }
}

/// Finds the published boundaries containing a client with equality filters only (docs/directory.md,
/// "Range lookups"): the subnet ID computed from the client's own prefix length, its IPv6 prefix and AD site
/// among `mSSMSRoamingBoundaries`, and the ranges through the CIDR blocks in `sitelocRangeBlock` that one of the
/// client's 33 prefixes must equal. Both searches go out together on the one connection.
public enum BoundaryLookup {
    /// The searches that find a client's boundaries: the site objects naming its subnet ID, IPv6 prefix or AD
    /// site, and (for IPv4) the ranges through their CIDR blocks.
    public static func requests(
        for address: ClientAddress,
        adSite: String? = nil,
        in layout: DirectoryLayout
    ) -> (sites: LDAPSearchRequest, ranges: LDAPSearchRequest?) {
        var wanted: [LDAPFilter] = [.equal(SchemaAttribute.roamingBoundaries, ownValue(address).value)]
        if let adSite, !adSite.isEmpty { wanted.append(.equal(SchemaAttribute.roamingBoundaries, adSite)) }
        let sites = LDAPSearchRequest(
            base: layout.systemManagement,
            scope: .oneLevel,
            filter: .and([.equal(SchemaAttribute.objectClass, SchemaClass.site), .or(wanted)]),
            attributes: [SchemaAttribute.siteCode, SchemaAttribute.roamingBoundaries]
        )
        guard case .v4(let ip, _) = address else { return (sites, nil) }
        let ranges = LDAPSearchRequest(
            base: layout.systemManagement,
            scope: .oneLevel,
            filter: rangeFilter(for: ip),
            attributes: [SchemaAttribute.siteCode, SchemaAttribute.rangedIPLow, SchemaAttribute.rangedIPHigh]
        )
        return (sites, ranges)
    }

    /// What the answers to ``requests(for:adSite:in:)`` mean.
    public static func matches(
        for address: ClientAddress,
        adSite: String?,
        siteEntries: [LDAPEntry],
        rangeEntries: [LDAPEntry]
    ) -> [BoundaryMatch] {
        let (own, ownSpan) = ownValue(address)
        var matches: [BoundaryMatch] = []
        for entry in siteEntries {
            guard let code = entry.first(SchemaAttribute.siteCode).flatMap({ try? SiteCode($0) }) else { continue }
            for value in entry[SchemaAttribute.roamingBoundaries] {
                if value.lowercased() == own.lowercased() {
                    let kind: BoundaryMatch.Kind = if case .v4 = address { .subnet } else { .ipv6Prefix }
                    matches.append(BoundaryMatch(kind: kind, value: value, site: code, span: ownSpan, dn: entry.dn))
                } else if let adSite, value.lowercased() == adSite.lowercased() {
                    matches.append(BoundaryMatch(kind: .adSite, value: value, site: code, span: nil, dn: entry.dn))
                }
            }
        }
        guard case .v4(let ip, _) = address else { return matches }
        for entry in rangeEntries {
            guard let code = entry.first(SchemaAttribute.siteCode).flatMap({ try? SiteCode($0) }),
                let low = entry.first(SchemaAttribute.rangedIPLow).flatMap(UInt32.init),
                let high = entry.first(SchemaAttribute.rangedIPHigh).flatMap(UInt32.init),
                let range = IPv4Range(low: IPv4Address(low), high: IPv4Address(high)), range.contains(ip)
            else { continue }
            matches.append(
                BoundaryMatch(kind: .range, value: range.description, site: code, span: range.span, dn: entry.dn)
            )
        }
        return matches
    }

    /// Asks the directory over a connection; both searches go out together.
    public static func matches(
        for address: ClientAddress,
        adSite: String? = nil,
        in layout: DirectoryLayout,
        on connection: LDAPConnection
    ) async throws -> [BoundaryMatch] {
        let (sites, ranges) = requests(for: address, adSite: adSite, in: layout)
        async let siteEntries = connection.search(sites).entries
        var rangeEntries: [LDAPEntry] = []
        if let ranges { rangeEntries = try await connection.search(ranges).entries }
        return matches(for: address, adSite: adSite, siteEntries: try await siteEntries, rangeEntries: rangeEntries)
    }

    /// Asks the directory within a session (one hand-off for the whole question).
    public static func matches(
        for address: ClientAddress,
        adSite: String? = nil,
        in layout: DirectoryLayout,
        in session: LDAPSession
    ) throws -> [BoundaryMatch] {
        let (sites, ranges) = requests(for: address, adSite: adSite, in: layout)
        let siteEntries = try session.search(sites).entries
        let rangeEntries = try ranges.map { try session.search($0).entries } ?? []
        return matches(for: address, adSite: adSite, siteEntries: siteEntries, rangeEntries: rangeEntries)
    }

    /// The value a client's own address publishes as: its subnet ID (or IPv6 prefix), and the span it counts for.
    static func ownValue(_ address: ClientAddress) -> (value: String, span: UInt64) {
        switch address {
        case .v4(let ip, let length):
            (ip.masked(to: length).description, UInt64(1) << UInt64(32 - length))
        case .v6(let ip, let length):
            (
                IPv6Network(address: ip.masked(to: length), prefixLength: length).description,
                length <= 64 ? UInt64.max : UInt64(1) << UInt64(128 - length)
            )
        }
    }

    /// Every published range containing `address`, through equality-indexed CIDR blocks.
    public static func rangeFilter(for address: IPv4Address) -> LDAPFilter {
        .and([
            .equal(SchemaAttribute.objectClass, SchemaClass.roamingBoundaryRange),
            .or(address.enclosingNetworks.map { .equal(SchemaAttribute.rangeBlock, $0.description) }),
        ])
    }

    /// The same question asked the way Configuration Manager clients ask it: a two-sided ordering filter on the
    /// Microsoft attributes. Correct but slow on back-mdb; kept for tools and for the benchmark.
    public static func orderingRangeFilter(for address: IPv4Address) -> LDAPFilter {
        "(&(objectClass=mSSMSRoamingBoundaryRange)(mSSMSRangedIPLow<=\(address.value))(mSSMSRangedIPHigh>=\(address.value)))"
    }
}
