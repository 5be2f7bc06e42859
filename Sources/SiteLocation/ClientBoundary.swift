public import SiteModel

/// A boundary that contains the client, as whoever answers sees it: a management point knows the boundaries'
/// speeds and file order, the directory does not.
public struct BoundaryCandidate: Sendable, Hashable {
    public enum Kind: String, Sendable, Codable { case subnet, range, ipv6Prefix, adSite }

    public var kind: Kind
    public var value: String
    public var site: SiteCode
    /// Addresses spanned (nil for an AD site).
    public var span: UInt64?
    public var connection: ConnectionSpeed
    /// Position in the file, for ties within one site.
    public var order: Int
    /// The boundary as the file names it (`BoundaryValue.comparisonKey`), when the answerer knows the file.
    public var fileKey: String?

    public init(
        kind: Kind,
        value: String,
        site: SiteCode,
        span: UInt64?,
        connection: ConnectionSpeed = .fast,
        order: Int = 0,
        fileKey: String? = nil
    ) {
        self.kind = kind
        self.value = value
        self.site = site
        self.span = span
        self.connection = connection
        self.order = order
        self.fileKey = fileKey
    }
}

/// The chosen boundary, and whether boundaries of different sites tied for it.
public struct BoundarySelection: Sendable, Hashable {
    public var boundary: BoundaryCandidate
    public var ambiguous: Bool
}

/// The matching rules of docs/roaming-and-content.md, step 2 ("Several matches").
public enum BoundaryMatching {
    /// 1. The IP-based match with the smallest span wins; 2. an AD-site match counts only without an IP-based
    /// one; 3. a tie between sites goes to the lowest site code, flagged ambiguous; within one site, the slow
    /// boundary if any is slow, otherwise the first in file order.
    public static func select(_ candidates: [BoundaryCandidate]) -> BoundarySelection? {
        let ipBased = candidates.filter { $0.kind != .adSite }
        let pool: [BoundaryCandidate]
        if ipBased.isEmpty {
            pool = candidates
        } else {
            let smallest = ipBased.compactMap(\.span).min()
            pool = ipBased.filter { $0.span == smallest }
        }
        guard !pool.isEmpty else { return nil }
        let sites = Set(pool.map(\.site))
        let site = sites.min()!
        let ofSite = pool.filter { $0.site == site }.sorted { $0.order < $1.order }
        let chosen = ofSite.first { $0.connection == .slow } ?? ofSite[0]
        return BoundarySelection(boundary: chosen, ambiguous: sites.count > 1)
    }

    /// The boundaries of `sites` that contain the client, with their speeds and file order.
    public static func candidates(
        for address: ClientAddress,
        adSite: String?,
        among sites: [Site]
    ) -> [BoundaryCandidate] {
        var result: [BoundaryCandidate] = []
        var order = 0
        for site in sites {
            for boundary in site.boundaries {
                defer { order += 1 }
                switch (boundary.value, address) {
                case (.subnet(let network), .v4(let ip, let length)):
                    // The client knows only its own prefix length: the subnet IDs must be equal.
                    if ip.masked(to: length) == network.subnetID {
                        result.append(
                            BoundaryCandidate(
                                kind: .subnet,
                                value: network.subnetID.description,
                                site: site.code,
                                span: UInt64(1) << UInt64(32 - length),
                                connection: boundary.connection,
                                order: order,
                                fileKey: boundary.value.comparisonKey
                            )
                        )
                    }
                case (.range(let range), .v4(let ip, _)):
                    if range.contains(ip) {
                        result.append(
                            BoundaryCandidate(
                                kind: .range,
                                value: range.description,
                                site: site.code,
                                span: range.span,
                                connection: boundary.connection,
                                order: order,
                                fileKey: boundary.value.comparisonKey
                            )
                        )
                    }
                case (.ipv6Prefix(let network), .v6(let ip, let length)):
                    if length == network.prefixLength && ip.masked(to: length) == network.address {
                        let span = length <= 64 ? UInt64.max : UInt64(1) << UInt64(128 - length)
                        result.append(
                            BoundaryCandidate(
                                kind: .ipv6Prefix,
                                value: network.description,
                                site: site.code,
                                span: span,
                                connection: boundary.connection,
                                order: order,
                                fileKey: boundary.value.comparisonKey
                            )
                        )
                    }
                case (.adSite(let name), _):
                    if let adSite, name.lowercased() == adSite.lowercased() {
                        result.append(
                            BoundaryCandidate(
                                kind: .adSite,
                                value: name,
                                site: site.code,
                                span: nil,
                                connection: boundary.connection,
                                order: order,
                                fileKey: boundary.value.comparisonKey
                            )
                        )
                    }
                default:
                    continue
                }
            }
        }
        return result
    }
}
