import DirectorySchema
public import LDAPKit
public import SiteModel

/// Where things live in a forest's directory (docs/directory.md).
public struct DirectoryLayout: Sendable, Hashable {
    public let forest: ForestName

    public init(forest: ForestName) {
        self.forest = forest
    }

    /// The forest root: `corp.contoso.com` → `dc=corp,dc=contoso,dc=com`.
    public var suffix: DistinguishedName {
        DistinguishedName(forest.labels.map { RelativeDistinguishedName("dc", $0) })
    }

    /// The administrative identity of a lab or container directory.
    public var adminDN: DistinguishedName { suffix.child("cn", "admin") }

    public var configuration: DistinguishedName { suffix.child("cn", "Configuration") }
    /// `cn=Partitions,cn=Configuration,…`: holds the forest functional level (`msDS-Behavior-Version`).
    public var partitions: DistinguishedName { configuration.child("cn", "Partitions") }
    /// `cn=Sites,cn=Configuration,…`: Active Directory's sites.
    public var sites: DistinguishedName { configuration.child("cn", "Sites") }
    /// `cn=Subnets,cn=Sites,cn=Configuration,…`: one subnet object per network, naming its site.
    public var subnets: DistinguishedName { sites.child("cn", "Subnets") }

    /// An AD site: `cn=<name>,cn=Sites,cn=Configuration,…`.
    public func adSite(_ name: String) -> DistinguishedName { sites.child("cn", name) }

    /// The site AD starts with; its `cn=Servers` holds the directory servers' objects.
    public static let defaultSite = "Default-First-Site-Name"
    /// `cn=Servers,cn=Default-First-Site-Name,cn=Sites,…`.
    public var servers: DistinguishedName { adSite(Self.defaultSite).child("cn", "Servers") }

    /// A subnet object, named by its network in CIDR form: `cn=10.20.0.0/16,cn=Subnets,…`.
    public func subnet(_ subnet: ADSubnet) -> DistinguishedName { subnets.child("cn", subnet.description) }

    /// `cn=Computers,…`: one entry per site server.
    public var computers: DistinguishedName { suffix.child("cn", "Computers") }
    /// `cn=System,…`: holds the trustedDomain objects.
    public var system: DistinguishedName { suffix.child("cn", "System") }
    /// `cn=System Management,cn=System,…`: everything a site publishes.
    public var systemManagement: DistinguishedName { system.child("cn", "System Management") }

    /// The site object: `cn=SMS-Site-<code>`.
    public func site(_ code: SiteCode) -> DistinguishedName {
        systemManagement.child("cn", "SMS-Site-\(code)")
    }

    /// The entries every forest starts with, parents before children.
    public var baseTree: [(dn: DistinguishedName, attributes: [LDAPAttribute])] {
        let first = forest.labels[0]
        func container(_ dn: DistinguishedName) -> (DistinguishedName, [LDAPAttribute]) {
            (
                dn,
                [
                    LDAPAttribute(SchemaAttribute.objectClass, [SchemaClass.top, SchemaClass.container]),
                    LDAPAttribute(SchemaAttribute.cn, dn.rdns[0].value),
                ]
            )
        }
        func typed(_ dn: DistinguishedName, _ objectClass: String) -> (DistinguishedName, [LDAPAttribute]) {
            (
                dn,
                [
                    LDAPAttribute(SchemaAttribute.objectClass, [SchemaClass.top, objectClass]),
                    LDAPAttribute(SchemaAttribute.cn, dn.rdns[0].value),
                ]
            )
        }
        return [
            (
                suffix,
                [LDAPAttribute(SchemaAttribute.objectClass, [SchemaClass.top, "domain"]), LDAPAttribute("dc", first)]
            ),
            container(configuration),
            (
                partitions,
                [
                    LDAPAttribute(SchemaAttribute.objectClass, [SchemaClass.top, SchemaClass.crossRefContainer]),
                    LDAPAttribute(SchemaAttribute.cn, "Partitions"),
                ]
            ),
            container(computers),
            container(system),
            container(systemManagement),
            // Where AD keeps sites, subnets and its directory servers (docs/active-directory.md).
            typed(sites, SchemaClass.sitesContainer),
            typed(adSite(Self.defaultSite), SchemaClass.adSite),
            typed(servers, SchemaClass.serversContainer),
            typed(subnets, SchemaClass.subnetContainer),
        ]
    }
}
