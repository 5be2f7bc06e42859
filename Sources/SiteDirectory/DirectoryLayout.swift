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
    public var baseTree: [DesiredEntry] {
        [
            DesiredEntry(
                suffix,
                [
                    LDAPAttribute(SchemaAttribute.objectClass, [SchemaClass.top, "domain"]),
                    LDAPAttribute("dc", forest.labels[0]),
                ]
            ),
            .named(configuration, SchemaClass.container),
            .named(partitions, SchemaClass.crossRefContainer),
            .named(computers, SchemaClass.container),
            .named(system, SchemaClass.container),
            .named(systemManagement, SchemaClass.container),
            // Where AD keeps sites, subnets and its directory servers (docs/active-directory.md).
            .named(sites, SchemaClass.sitesContainer),
            .named(adSite(Self.defaultSite), SchemaClass.adSite),
            .named(servers, SchemaClass.serversContainer),
            .named(subnets, SchemaClass.subnetContainer),
        ]
    }
}
