import DirectorySchema
public import LDAPKit
public import SiteModel

/// What Active Directory would already hold in a forest before Configuration Manager publishes anything: the
/// functional level, a trustedDomain object for each trust, and a computer entry for each site server, which is
/// also the site's identity in the directory (docs/trust-rules.md, docs/directory.md).
public enum ForestProvisioning {
    /// `trustAttributes` flags.
    public static let forestTransitive = 0x8
    public static let nonTransitive = 0x1

    /// The functional level's change to `cn=Partitions,cn=Configuration`.
    public static func functionalLevel(of forest: Forest) -> (DistinguishedName, LDAPModification) {
        let layout = DirectoryLayout(forest: forest.name)
        return (
            layout.partitions,
            .replace(SchemaAttribute.behaviorVersion, [String(forest.functionalLevel.behaviorVersion)])
        )
    }

    /// The trustedDomain objects of `forest`, one for each trust it takes part in.
    public static func trustedDomains(of forest: Forest, in hierarchy: Hierarchy) -> [DesiredEntry] {
        let layout = DirectoryLayout(forest: forest.name)
        return hierarchy.trusts.compactMap { trust -> DesiredEntry? in
            guard let index = trust.forests.firstIndex(of: forest.name) else { return nil }
            let partner = trust.forests[1 - index]
            // One way: the first forest trusts the second, so the first has the outbound side.
            let direction = trust.direction == .twoWay ? 3 : (index == 0 ? 2 : 1)
            let attributes =
                trust.kind == .forest && trust.transitive ? forestTransitive : nonTransitive
            return DesiredEntry(
                layout.trustedDomain(partner),
                [
                    LDAPAttribute(
                        SchemaAttribute.objectClass,
                        [SchemaClass.top, SchemaClass.leaf, SchemaClass.trustedDomain]
                    ),
                    LDAPAttribute(SchemaAttribute.cn, partner.rawValue),
                    LDAPAttribute(SchemaAttribute.trustPartner, partner.rawValue),
                    LDAPAttribute(SchemaAttribute.trustDirection, String(direction)),
                    LDAPAttribute(SchemaAttribute.trustType, "2"),
                    LDAPAttribute(SchemaAttribute.trustAttributes, String(attributes)),
                    LDAPAttribute(SchemaAttribute.flatName, partner.labels[0].uppercased()),
                ]
            )
        }
    }

    /// Everything of the above for a directory that has none of it yet, as changes (`siteloc forest ldif`): the
    /// functional level, the trusts, the AD sites and subnets, and the site servers' computer entries (without
    /// passwords).
    public static func changes(for forest: Forest, in hierarchy: Hierarchy) -> [DirectoryChange] {
        let (partitions, level) = functionalLevel(of: forest)
        // The containers and the default site are part of every directory's base tree.
        let base = Set(DirectoryLayout(forest: forest.name).baseTree.map(\.dn.caseInsensitiveKey))
        return [.modify(partitions, [level])] + trustedDomains(of: forest, in: hierarchy).map { .add($0) }
            + adSites(of: forest).filter { !base.contains($0.dn.caseInsensitiveKey) }.map { .add($0) }
            + siteServers(of: forest, in: hierarchy).map { .add($0.entry) }
    }

    /// The classes of the entries ``adSites(of:)`` manages: the diff against a directory reads these under
    /// `cn=Sites` and removes what the hierarchy no longer lists.
    public static let adSiteClasses = [
        SchemaClass.sitesContainer, SchemaClass.adSite, SchemaClass.subnetContainer, SchemaClass.subnet,
    ]

    /// Where Active Directory keeps sites and subnets, parents first: `cn=Sites` and `cn=Subnets`, a `site` per
    /// AD site of the forest, a `subnet` per network naming its site in `siteObject` (docs/active-directory.md).
    public static func adSites(of forest: Forest) -> [DesiredEntry] {
        let layout = DirectoryLayout(forest: forest.name)
        var entries = [
            DesiredEntry.named(layout.sites, SchemaClass.sitesContainer),
            .named(layout.subnets, SchemaClass.subnetContainer),
        ]
        // The site AD starts with holds the directory servers' objects, so it stays whatever the hierarchy lists.
        let defaultSite = DirectoryLayout.defaultSite
        var names = forest.adSites.map(\.name)
        if forest.adSite(named: defaultSite) == nil { names.insert(defaultSite, at: 0) }
        for name in names { entries.append(.named(layout.adSite(name), SchemaClass.adSite)) }
        for site in forest.adSites {
            for subnet in site.subnets {
                entries.append(
                    .named(
                        layout.subnet(subnet),
                        SchemaClass.subnet,
                        [LDAPAttribute(SchemaAttribute.siteObject, layout.adSite(site.name).description)]
                    )
                )
            }
        }
        return entries
    }

    /// The computer entries of the site servers in `forest`, without their passwords.
    public static func siteServers(of forest: Forest, in hierarchy: Hierarchy) -> [(site: Site, entry: DesiredEntry)] {
        let layout = DirectoryLayout(forest: forest.name)
        return hierarchy.sites.filter { $0.forest == forest.name }.map { site in
            let host = site.server.lowercased()
            return (
                site,
                DesiredEntry(
                    layout.computer(host: host),
                    [
                        LDAPAttribute(
                            SchemaAttribute.objectClass,
                            [SchemaClass.top, SchemaClass.computer, SchemaClass.siteServer]
                        ),
                        LDAPAttribute(SchemaAttribute.cn, layout.computer(host: host).rdns[0].value),
                        LDAPAttribute(SchemaAttribute.dnsHostName, host),
                        LDAPAttribute(SchemaAttribute.operatingSystem, forest.serverOS.operatingSystem),
                        LDAPAttribute(SchemaAttribute.operatingSystemVersion, forest.serverOS.operatingSystemVersion),
                        LDAPAttribute(SchemaAttribute.siteCode, site.code.rawValue),
                        LDAPAttribute("description", "Site server of site \(site.code)"),
                    ]
                )
            )
        }
    }
}
