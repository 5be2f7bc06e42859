/// The schema siteloc needs in a directory: the Configuration Manager extension with Microsoft's names and OIDs,
/// the Active Directory classes it rests on, and siteloc's own extension. This file is the one source; the files
/// in `Schema/` are rendered from it (``ldif``, ``slapdSchema``, ``indexLDIF(database:)``) and a test keeps them
/// equal.
public enum DirectorySchema {
    /// Raised whenever a definition changes, so that installers can tell an old schema from the current one.
    public static let version = 2

    /// The name of the schema entry: `cn=siteloc,cn=schema,cn=config` (slapd numbers it, `cn={N}siteloc`).
    public static let entryName = "siteloc"

    /// siteloc's own OID arc: a UUID-derived OID (ITU-T X.667, `2.25.<uuid as an integer>`), from UUID
    /// 0ea54a8d-0b65-49c7-ada0-f344dd431fdd. `.1` holds attribute types, `.2` object classes.
    public static let projectArc = "2.25.19467432995655438546226264221388316637"

    private static let configMgrAttribute = "1.2.840.113556.1.6.29.2.1"
    private static let configMgrClass = "1.2.840.113556.1.6.29.2.2"

    public static let attributeTypes: [AttributeTypeDefinition] =
        configurationManagerAttributes
        + activeDirectoryAttributes + sitelocAttributes

    public static let objectClasses: [ObjectClassDefinition] =
        activeDirectoryClasses
        + configurationManagerClasses + sitelocClasses

    /// The attributes a lookup filters on, with their index types. The Microsoft range attributes
    /// (`mSSMSRangedIPLow`/`High`) are deliberately absent: on back-mdb an equality index makes their two-sided
    /// `<=`/`>=` filter slower than no index at all; range lookups use `sitelocRangeBlock` instead.
    public static let indexes: [(attribute: String, types: String)] = [
        ("objectClass", "eq"),
        ("cn", "eq"),
        ("mSSMSSiteCode", "eq"),
        ("mSSMSRoamingBoundaries", "eq"),
        ("mSSMSDefaultMP", "eq"),
        ("dNSHostName", "eq"),
        ("sitelocRangeBlock", "eq"),
        ("entryCSN", "eq"),
        ("entryUUID", "eq"),
    ]

    // MARK: Configuration Manager (ConfigMgr_ad_schema.LDF)

    static let configurationManagerAttributes: [AttributeTypeDefinition] = [
        .init(
            oid: "\(configMgrAttribute).1",
            name: SchemaAttribute.siteCode,
            summary: "MS-SMS-Site-Code: three-character site code",
            syntax: .directoryString,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).2",
            name: SchemaAttribute.siteBoundaries,
            summary: "MS-SMS-Site-Boundaries: legacy SMS 2003 site boundaries",
            syntax: .directoryString,
            singleValued: false,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).3",
            name: SchemaAttribute.roamingBoundaries,
            summary: "MS-SMS-Roaming-Boundaries: subnet IDs, AD site names and IPv6 prefixes of the site",
            syntax: .directoryString,
            singleValued: false,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).4",
            name: SchemaAttribute.defaultMP,
            summary: "MS-SMS-Default-MP: TRUE for the default management point of its site",
            syntax: .boolean,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).5",
            name: SchemaAttribute.mpName,
            summary: "MS-SMS-MP-Name: management point host name",
            syntax: .directoryString,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).6",
            name: SchemaAttribute.mpAddress,
            summary: "MS-SMS-MP-Address: the address clients use to reach the management point",
            syntax: .directoryString,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).7",
            name: SchemaAttribute.rangedIPLow,
            summary: "MS-SMS-Ranged-IP-Low: first address of a boundary range as an unsigned 32-bit decimal",
            syntax: .integer(ordered: true),
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).8",
            name: SchemaAttribute.rangedIPHigh,
            summary: "MS-SMS-Ranged-IP-High: last address of a boundary range as an unsigned 32-bit decimal",
            syntax: .integer(ordered: true),
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).9",
            name: SchemaAttribute.assignmentSiteCode,
            summary: "mS-SMS-Assignment-Site-Code: the site clients in these boundaries are assigned to",
            syntax: .directoryString,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).10",
            name: SchemaAttribute.deviceManagementPoint,
            summary: "mS-SMS-Device-Management-Point: TRUE for a device management point",
            syntax: .boolean,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).11",
            name: SchemaAttribute.healthState,
            summary: "mS-SMS-Health-State: network access protection health state reference",
            syntax: .directoryString,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).12",
            name: SchemaAttribute.sourceForest,
            summary: "mS-SMS-Source-Forest: the forest the publishing site belongs to",
            syntax: .directoryString,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).14",
            name: SchemaAttribute.capabilities,
            summary: "mS-SMS-Capabilities: XML document of management point capabilities",
            syntax: .directoryString,
            singleValued: true,
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrAttribute).15",
            name: SchemaAttribute.version,
            summary: "mS-SMS-Version: management point version",
            syntax: .integer(ordered: false),
            singleValued: true,
            origin: .configurationManager
        ),
    ]

    static let configurationManagerClasses: [ObjectClassDefinition] = [
        .init(
            oid: "\(configMgrClass).1",
            name: SchemaClass.managementPoint,
            summary: "MS-SMS-Management-Point: a published management point",
            superior: "serviceConnectionPoint",
            kind: .structural,
            must: [],
            may: [
                "cn", "mSSMSDeviceManagementPoint", "mSSMSMPAddress", "mSSMSMPName", "mSSMSDefaultMP", "mSSMSSiteCode",
                "mSSMSCapabilities", "mSSMSVersion", "mSSMSSourceForest", "dNSHostName",
            ],
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrClass).2",
            name: SchemaClass.site,
            summary: "MS-SMS-Site: a published site",
            superior: "top",
            kind: .structural,
            must: [],
            may: [
                "serviceBindingInformation", "cn", "mSSMSRoamingBoundaries", "mSSMSSiteBoundaries",
                "mSSMSAssignmentSiteCode", "mSSMSSiteCode", "mSSMSSourceForest", "mSSMSHealthState",
            ],
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrClass).3",
            name: SchemaClass.serverLocatorPoint,
            summary: "MS-SMS-Server-Locator-Point: a published server locator point",
            superior: "serviceConnectionPoint",
            kind: .structural,
            must: [],
            may: ["mSSMSMPName", "cn", "mSSMSSiteCode", "mSSMSSourceForest", "dNSHostName"],
            origin: .configurationManager
        ),
        .init(
            oid: "\(configMgrClass).4",
            name: SchemaClass.roamingBoundaryRange,
            summary: "MS-SMS-Roaming-Boundary-Range: a published IPv4 boundary range",
            superior: "top",
            kind: .structural,
            must: [],
            may: [
                "cn", "mSSMSRangedIPHigh", "mSSMSRangedIPLow", "mSSMSAssignmentSiteCode", "mSSMSSiteCode",
                "mSSMSSourceForest",
            ],
            origin: .configurationManager
        ),
    ]

    // MARK: Active Directory

    static let activeDirectoryAttributes: [AttributeTypeDefinition] = [
        .init(
            oid: "1.2.840.113556.1.4.510",
            name: SchemaAttribute.serviceBindingInformation,
            summary: "Service-Binding-Information: on mSSMSSite, the site public signing key",
            syntax: .directoryString,
            singleValued: false,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.619",
            name: SchemaAttribute.dnsHostName,
            summary: "DNS-Host-Name: the host DNS name",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.509",
            name: SchemaAttribute.serviceClassName,
            summary: "Service-Class-Name",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.657",
            name: SchemaAttribute.serviceDNSName,
            summary: "Service-DNS-Name",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.659",
            name: SchemaAttribute.serviceDNSNameType,
            summary: "Service-DNS-Name-Type",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.48",
            name: SchemaAttribute.keywords,
            summary: "Keywords",
            syntax: .directoryString,
            singleValued: false,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.653",
            name: SchemaAttribute.managedBy,
            summary: "Managed-By",
            syntax: .distinguishedName,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.1459",
            name: SchemaAttribute.behaviorVersion,
            summary: "ms-DS-Behavior-Version: forest functional level on cn=Partitions",
            syntax: .integer(ordered: true),
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.133",
            name: SchemaAttribute.trustPartner,
            summary: "Trust-Partner: the trusted domain DNS name",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.132",
            name: SchemaAttribute.trustDirection,
            summary: "Trust-Direction: 1 inbound, 2 outbound, 3 both",
            syntax: .integer(ordered: false),
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.136",
            name: SchemaAttribute.trustType,
            summary: "Trust-Type: 2 uplevel (Windows 2000 or later)",
            syntax: .integer(ordered: false),
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.470",
            name: SchemaAttribute.trustAttributes,
            summary: "Trust-Attributes: flags, 0x1 non-transitive, 0x8 forest-transitive",
            syntax: .integer(ordered: false),
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.511",
            name: SchemaAttribute.flatName,
            summary: "Flat-Name: NetBIOS name of the trusted domain",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.363",
            name: SchemaAttribute.operatingSystem,
            summary: "Operating-System",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.364",
            name: SchemaAttribute.operatingSystemVersion,
            summary: "Operating-System-Version",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.512",
            name: SchemaAttribute.siteObject,
            summary: "Site-Object: the site a subnet belongs to",
            syntax: .distinguishedName,
            singleValued: true,
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.4.223",
            name: SchemaAttribute.serverName,
            summary: "Server-Name: in the root DSE, the DN of the directory server object under cn=Servers",
            syntax: .directoryString,
            singleValued: true,
            origin: .activeDirectory
        ),
    ]

    static let activeDirectoryClasses: [ObjectClassDefinition] = [
        .init(
            oid: "1.2.840.113556.1.3.23",
            name: SchemaClass.container,
            summary: "Container: holds other objects",
            superior: "top",
            kind: .structural,
            must: ["cn"],
            may: ["description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.20",
            name: SchemaClass.leaf,
            summary: "Leaf: an object with no children",
            superior: "top",
            kind: .abstract,
            must: [],
            may: [],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.14",
            name: SchemaClass.connectionPoint,
            summary: "Connection-Point",
            superior: "leaf",
            kind: .abstract,
            must: ["cn"],
            may: ["keywords", "managedBy", "description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.126",
            name: SchemaClass.serviceConnectionPoint,
            summary: "Service-Connection-Point: where a service can be reached",
            superior: "connectionPoint",
            kind: .structural,
            must: [],
            may: ["serviceBindingInformation", "serviceClassName", "serviceDNSName", "serviceDNSNameType"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.7000.53",
            name: SchemaClass.crossRefContainer,
            summary: "Cross-Ref-Container: cn=Partitions, holds the forest functional level",
            superior: "top",
            kind: .structural,
            must: [],
            may: ["cn", "msDS-Behavior-Version", "description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.34",
            name: SchemaClass.trustedDomain,
            summary: "Trusted-Domain: a domain trusted by or trusting this one",
            superior: "leaf",
            kind: .structural,
            must: [],
            may: ["cn", "trustPartner", "trustDirection", "trustType", "trustAttributes", "flatName", "description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.3.30",
            name: SchemaClass.computer,
            summary: "Computer: a computer account (reduced: no user attributes)",
            superior: "top",
            kind: .structural,
            must: ["cn"],
            may: ["dNSHostName", "operatingSystem", "operatingSystemVersion", "description", "userPassword"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.107",
            name: SchemaClass.sitesContainer,
            summary: "Sites-Container: cn=Sites in the configuration naming context",
            superior: "top",
            kind: .structural,
            must: ["cn"],
            may: ["description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.31",
            name: SchemaClass.adSite,
            summary: "Site: an Active Directory site",
            superior: "top",
            kind: .structural,
            must: ["cn"],
            may: ["description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.95",
            name: SchemaClass.subnetContainer,
            summary: "Subnet-Container: cn=Subnets, holds every subnet object",
            superior: "top",
            kind: .structural,
            must: ["cn"],
            may: ["description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.96",
            name: SchemaClass.subnet,
            summary: "Subnet: a network (named in CIDR form) and the site its addresses belong to",
            superior: "top",
            kind: .structural,
            must: ["cn"],
            may: ["siteObject", "description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.7000.48",
            name: SchemaClass.serversContainer,
            summary: "Servers-Container: cn=Servers of a site",
            superior: "top",
            kind: .structural,
            must: ["cn"],
            may: ["description"],
            origin: .activeDirectory
        ),
        .init(
            oid: "1.2.840.113556.1.5.17",
            name: SchemaClass.server,
            summary: "Server: a directory server of a site",
            superior: "top",
            kind: .structural,
            must: ["cn"],
            may: ["dNSHostName", "description"],
            origin: .activeDirectory
        ),
    ]

    // MARK: siteloc

    static let sitelocAttributes: [AttributeTypeDefinition] =
        [
            .init(
                oid: "\(projectArc).1.1",
                name: SchemaAttribute.rangeBlock,
                summary: "siteloc: an IPv4 CIDR block (a.b.c.d/len) of the blocks that exactly tile a boundary range",
                syntax: .ia5Exact,
                singleValued: false,
                origin: .siteloc
            )
        ] + rootDSEAttributes

    /// The root DSE attributes Active Directory's clients read first. AD constructs them in the root DSE and its
    /// schema assigns them no OID, so they live under siteloc's arc; slapd serves them from the `olcRootDSE` file
    /// that `siteloc lab up` and `siteloc serve` write.
    static let rootDSEAttributes: [AttributeTypeDefinition] = [
        (2, SchemaAttribute.defaultNamingContext, "the domain naming context", AttributeSyntax.distinguishedName),
        (
            3, SchemaAttribute.rootDomainNamingContext, "the naming context of the forest root domain",
            .distinguishedName
        ),
        (4, SchemaAttribute.configurationNamingContext, "the configuration naming context", .distinguishedName),
        (5, SchemaAttribute.domainFunctionality, "the domain functional level", .integer(ordered: false)),
        (6, SchemaAttribute.forestFunctionality, "the forest functional level", .integer(ordered: false)),
        (7, SchemaAttribute.domainControllerFunctionality, "the server functional level", .integer(ordered: false)),
        (8, SchemaAttribute.isSynchronized, "whether the server has finished its first synchronisation", .boolean),
    ].map { number, name, summary, syntax in
        AttributeTypeDefinition(
            oid: "\(projectArc).1.\(number)",
            name: name,
            summary: "AD root DSE: \(summary)",
            syntax: syntax,
            singleValued: true,
            origin: .siteloc
        )
    }

    static let sitelocClasses: [ObjectClassDefinition] = [
        .init(
            oid: "\(projectArc).2.1",
            name: SchemaClass.rangeBlocks,
            summary: "siteloc: range lookup by equality on the CIDR blocks of a boundary range",
            superior: "top",
            kind: .auxiliary,
            must: [],
            may: ["sitelocRangeBlock"],
            origin: .siteloc
        ),
        .init(
            oid: "\(projectArc).2.2",
            name: SchemaClass.siteServer,
            summary: "siteloc: marks a computer entry as the directory identity of a site server",
            superior: "top",
            kind: .auxiliary,
            must: [],
            may: ["mSSMSSiteCode"],
            origin: .siteloc
        ),
    ]
}
