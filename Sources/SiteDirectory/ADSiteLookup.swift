import DirectorySchema
public import LDAPKit
public import SiteModel

/// The AD site a client's address belongs to, learned from its forest's subnet objects as Windows' DC locator
/// does (DsGetSiteName): the subnet with the longest prefix containing the address names the site in
/// `siteObject`; no subnet, no site.
public struct LearnedADSite: Sendable, Hashable {
    public var site: String
    public var subnet: ADSubnet
    /// The subnet object that decided.
    public var subnetDN: String

    public init(site: String, subnet: ADSubnet, subnetDN: String) {
        self.site = site
        self.subnet = subnet
        self.subnetDN = subnetDN
    }
}

/// Finds a client's AD site in `cn=Subnets,cn=Sites,cn=Configuration` (docs/active-directory.md). Subnet objects
/// are named by their network in canonical CIDR form, so one search with an equality term on `cn` for each
/// prefix that can hold the address (33 for IPv4, 129 for IPv6; `cn` is indexed) finds every subnet containing it
/// without reading the others. ``readAllRequest(in:)`` is the other way, for the benchmark that chose this one.
public enum ADSiteLookup {
    /// The one search: the subnet objects named by a prefix of `address`.
    public static func request(for address: ClientAddress, in layout: DirectoryLayout) -> LDAPSearchRequest {
        LDAPSearchRequest(
            base: layout.subnets,
            scope: .oneLevel,
            filter: .and([
                .equal(SchemaAttribute.objectClass, SchemaClass.subnet),
                .or(ADSubnet.enclosing(address).map { .equal(SchemaAttribute.cn, $0.description) }),
            ]),
            attributes: [SchemaAttribute.cn, SchemaAttribute.siteObject]
        )
    }

    /// Every subnet object of the forest.
    public static func readAllRequest(in layout: DirectoryLayout) -> LDAPSearchRequest {
        LDAPSearchRequest(
            base: layout.subnets,
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.objectClass, SchemaClass.subnet),
            attributes: [SchemaAttribute.cn, SchemaAttribute.siteObject]
        )
    }

    /// What subnet entries say about `address`: the longest subnet containing it that names a site. Entries whose
    /// name is no CIDR block, or whose `siteObject` is no DN with a `cn`, are passed over (a crafted or broken
    /// directory cannot make a client believe a site it does not name).
    public static func decide(_ address: ClientAddress, among entries: [LDAPEntry]) -> LearnedADSite? {
        let candidates: [(subnet: ADSubnet, site: LearnedADSite)] = entries.compactMap { entry in
            guard let name = entry.first(SchemaAttribute.cn), let subnet = ADSubnet(name),
                let siteDN = entry.first(SchemaAttribute.siteObject),
                let site = try? DistinguishedName(parsing: siteDN), let first = site.rdns.first,
                first.attributes[0].type.lowercased() == "cn", !first.value.isEmpty
            else { return nil }
            return (subnet, LearnedADSite(site: first.value, subnet: subnet, subnetDN: entry.dn))
        }
        return ADSiteDecision.site(of: address, among: candidates)?.site
    }

    /// Asks over a connection.
    public static func site(
        of address: ClientAddress,
        in layout: DirectoryLayout,
        on connection: LDAPConnection
    ) async throws(LDAPError) -> LearnedADSite? {
        decide(address, among: try await connection.search(request(for: address, in: layout)).entries)
    }

    /// Asks within a session (the roaming client's conversation).
    public static func site(
        of address: ClientAddress,
        in layout: DirectoryLayout,
        in session: LDAPSession
    )
        throws(LDAPError) -> LearnedADSite?
    {
        decide(address, among: try session.search(request(for: address, in: layout)).entries)
    }
}
