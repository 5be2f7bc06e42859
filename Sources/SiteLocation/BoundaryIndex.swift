public import SiteModel

/// The boundaries of a set of sites, indexed once so that finding those that contain a client costs a few lookups
/// instead of a pass over every boundary: a management point high in a hierarchy of 1,000 sites × 20 boundaries
/// answers many requests a second from the same sites. Gives exactly `BoundaryMatching.candidates(for:adSite:among:)`
/// (a test compares them on generated hierarchies).
public struct BoundaryIndex: Sendable {
    /// Subnets by subnet ID: a client matches when its own address masked to its own prefix length is the ID.
    private var subnets: [IPv4Address: [BoundaryCandidate]] = [:]
    /// IPv6 prefixes by address and length: a client matches with the same length and masked address.
    private var prefixes: [IPv6Key: [BoundaryCandidate]] = [:]
    /// AD site names, lower-cased.
    private var adSites: [String: [BoundaryCandidate]] = [:]
    /// Ranges by first address, and the highest last address among each prefix of that order: a search stops at the
    /// first range whose predecessors all end before the client.
    private var ranges: [(range: IPv4Range, candidate: BoundaryCandidate)] = []
    private var highestEnd: [IPv4Address] = []

    private struct IPv6Key: Hashable, Sendable {
        var address: IPv6Address
        var length: Int
    }

    public init(_ sites: [Site]) {
        var order = 0
        for site in sites {
            for boundary in site.boundaries {
                defer { order += 1 }
                // A subnet's span is the client's: it is set when one matches.
                func entry(_ kind: BoundaryCandidate.Kind, _ value: String, _ span: UInt64?) -> BoundaryCandidate {
                    BoundaryCandidate(
                        kind: kind,
                        value: value,
                        site: site.code,
                        span: span,
                        connection: boundary.connection,
                        order: order,
                        fileKey: boundary.value.comparisonKey
                    )
                }
                switch boundary.value {
                case .subnet(let network):
                    subnets[network.subnetID, default: []].append(entry(.subnet, network.subnetID.description, nil))
                case .range(let range):
                    ranges.append((range, entry(.range, range.description, range.span)))
                case .ipv6Prefix(let network):
                    let span = network.prefixLength <= 64 ? UInt64.max : UInt64(1) << UInt64(128 - network.prefixLength)
                    prefixes[IPv6Key(address: network.address, length: network.prefixLength), default: []].append(
                        entry(.ipv6Prefix, network.description, span)
                    )
                case .adSite(let name):
                    adSites[name.lowercased(), default: []].append(entry(.adSite, name, nil))
                }
            }
        }
        ranges.sort { $0.range.low < $1.range.low }
        var highest: IPv4Address?
        highestEnd = ranges.map { item in
            highest = highest.map { max($0, item.range.high) } ?? item.range.high
            return highest!
        }
    }

    /// The boundaries that contain the client, in file order.
    public func candidates(for address: ClientAddress, adSite: String?) -> [BoundaryCandidate] {
        var result: [BoundaryCandidate] = []
        switch address {
        case .v4(let ip, let length):
            for subnet in subnets[ip.masked(to: length)] ?? [] {
                var candidate = subnet
                candidate.span = UInt64(1) << UInt64(32 - length)
                result.append(candidate)
            }
            // The last range starting at or before the client, then back while an earlier one may still reach it.
            var low = 0
            var high = ranges.count
            while low < high {
                let middle = (low + high) / 2
                if ranges[middle].range.low <= ip { low = middle + 1 } else { high = middle }
            }
            var index = low - 1
            while index >= 0, highestEnd[index] >= ip {
                if ranges[index].range.contains(ip) { result.append(ranges[index].candidate) }
                index -= 1
            }
        case .v6(let ip, let length):
            result += (prefixes[IPv6Key(address: ip.masked(to: length), length: length)] ?? [])
        }
        if let adSite {
            result += (adSites[adSite.lowercased()] ?? [])
        }
        return result.sorted { $0.order < $1.order }
    }
}
