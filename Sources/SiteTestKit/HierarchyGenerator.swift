public import SiteModel

/// Synthetic hierarchies for load tests and benchmarks: a central site and primaries below it in one forest,
/// each with its own management point and `boundariesPerSite` boundaries (half subnets, then ranges, AD sites
/// and IPv6 prefixes), none shared between sites.
public enum HierarchyGenerator {
    public static func hierarchy(
        sites count: Int,
        boundariesPerSite: Int = 20,
        forest: ForestName = try! ForestName("corp.contoso.com")
    ) -> Hierarchy {
        let codes = siteCodes(count)
        let sites = codes.enumerated().map { index, code in
            Site(
                code: code,
                type: .primary,
                parent: index == 0 ? nil : codes[0],
                forest: forest,
                server: "\(code.rawValue.lowercased())-ss.\(forest)",
                boundaries: boundaries(site: index, count: boundariesPerSite),
                systems: [
                    SiteSystem(host: "\(code.rawValue.lowercased())-mp.\(forest)", roles: [.managementPoint]),
                    SiteSystem(host: "\(code.rawValue.lowercased())-dp.\(forest)", roles: [.distributionPoint]),
                ]
            )
        }
        return Hierarchy(
            forests: [Forest(name: forest, functionalLevel: .windows2003, serverOS: .windows2003)],
            sites: sites
        )
    }

    /// A tree of `count` sites, `fanout` children under each, with a standard address on every link both ways,
    /// a distribution point per site and one package (`CEN00001` style id of the central site) on all of them
    /// but the central site's: sending it reaches every other site.
    public static func tree(sites count: Int, fanout: Int = 10) -> Hierarchy {
        var hierarchy = hierarchy(sites: count, boundariesPerSite: 1)
        var sites = hierarchy.sites
        let codes = sites.map(\.code)
        for index in sites.indices {
            let parent = index == 0 ? nil : (index - 1) / fanout
            sites[index].parent = parent.map { codes[$0] }
            var addresses: [Address] = []
            if let parent { addresses.append(Address(to: codes[parent], sender: .standard, priority: 1)) }
            let children = min(count, index * fanout + 1)..<min(count, index * fanout + fanout + 1)
            for child in children { addresses.append(Address(to: codes[child], sender: .standard, priority: 1)) }
            sites[index].addresses = addresses
        }
        // Set whole: the hierarchy re-indexes its sites on every change to them.
        hierarchy.sites = sites
        hierarchy.packages = [
            Package(
                id: "\(codes[0].rawValue)00001",
                sourceSite: codes[0],
                sizeKB: 1,
                distributionPoints: hierarchy.sites.dropFirst().compactMap { $0.systems.last?.host }
            )
        ]
        return hierarchy
    }

    /// Site `index`'s boundaries: subnets 10.a.b.0/24, ranges in 172.16.0.0/12, AD sites, IPv6 /64 prefixes.
    static func boundaries(site index: Int, count: Int) -> [Boundary] {
        let subnets = (count + 1) / 2
        let ranges = (count - subnets + 2) / 3
        let adSites = (count - subnets - ranges + 1) / 2
        let prefixes = count - subnets - ranges - adSites
        var result: [Boundary] = []
        for number in 0..<subnets {
            let value = UInt32(10 << 24) | UInt32(index * subnets + number) << 8
            result.append(Boundary(.subnet(IPv4Network(address: IPv4Address(value), prefixLength: 24))))
        }
        for number in 0..<ranges {
            let base = UInt32(172 << 24 | 16 << 16) + UInt32(index * ranges + number) * 256
            result.append(
                Boundary(
                    .range(IPv4Range(low: IPv4Address(base + 10), high: IPv4Address(base + 200))!),
                    connection: .slow
                )
            )
        }
        for number in 0..<adSites { result.append(Boundary(.adSite("Site-\(index)-\(number)"))) }
        for number in 0..<prefixes {
            let groups: [UInt16] = [0x2001, 0xdb8, UInt16(index & 0xFFFF), UInt16(number), 0, 0, 0, 0]
            result.append(Boundary(.ipv6Prefix(IPv6Network(address: IPv6Address(groups: groups), prefixLength: 64))))
        }
        return result
    }

    /// `count` distinct site codes, none reserved.
    public static func siteCodes(_ count: Int) -> [SiteCode] {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let characters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var codes: [SiteCode] = []
        var number = 0
        while codes.count < count {
            let text = String([letters[number / 1296 % 26], characters[number / 36 % 36], characters[number % 36]])
            number += 1
            if let code = try? SiteCode(text) { codes.append(code) }
        }
        return codes
    }
}
