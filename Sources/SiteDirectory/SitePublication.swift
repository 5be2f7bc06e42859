import DirectorySchema
public import LDAPKit
public import SiteModel

/// An entry as it should be in the directory.
public struct DesiredEntry: Sendable, Hashable {
    public var dn: DistinguishedName
    public var attributes: [LDAPAttribute]

    public init(_ dn: DistinguishedName, _ attributes: [LDAPAttribute]) {
        self.dn = dn
        self.attributes = attributes
    }

    /// An entry of `objectClass` (under `top`) whose `cn` is its name, with `more` attributes.
    public static func named(
        _ dn: DistinguishedName,
        _ objectClass: String,
        _ more: [LDAPAttribute] = []
    ) -> DesiredEntry {
        DesiredEntry(
            dn,
            [
                LDAPAttribute(SchemaAttribute.objectClass, [SchemaClass.top, objectClass]),
                LDAPAttribute(SchemaAttribute.cn, dn.rdns[0].value),
            ] + more
        )
    }
}

extension DirectoryLayout {
    /// `cn=SMS-MP-<code>-<HOST>`: the host's FQDN in upper case, as Configuration Manager names them.
    public func managementPoint(_ code: SiteCode, host: String) -> DistinguishedName {
        systemManagement.child("cn", "SMS-MP-\(code)-\(host.uppercased())")
    }

    public func serverLocatorPoint(_ code: SiteCode, host: String) -> DistinguishedName {
        systemManagement.child("cn", "SMS-SLP-\(code)-\(host.uppercased())")
    }

    /// `cn=SMS-<code>-<low>-<high>`
    public func boundaryRange(_ code: SiteCode, _ range: IPv4Range) -> DistinguishedName {
        systemManagement.child("cn", "SMS-\(code)-\(range.low)-\(range.high)")
    }

    /// The computer entry of a site server, which is also the site's directory identity: `cn=<HOST>,cn=Computers`.
    public func computer(host: String) -> DistinguishedName {
        computers.child("cn", String(host.split(separator: ".").first ?? Substring(host)).uppercased())
    }

    /// A trustedDomain object for the partner forest: `cn=<partner>,cn=System`.
    public func trustedDomain(_ partner: ForestName) -> DistinguishedName {
        system.child("cn", partner.rawValue)
    }
}

/// What a site publishes (docs/directory.md, "What a site publishes").
public enum SitePublication {
    /// The Configuration Manager 2007 client and management point version.
    public static let version = "4"

    /// The entries of `site` in its forest's directory; none when the site does not publish.
    /// `publicKey` fills `serviceBindingInformation` once the site has a signing key.
    public static func entries(
        for site: Site,
        in hierarchy: Hierarchy,
        publicKey: String? = nil
    ) -> [DesiredEntry] {
        guard site.publish else { return [] }
        let layout = DirectoryLayout(forest: site.forest)
        let code = site.code.rawValue
        let assignment = site.type == .primary ? code : (site.parent?.rawValue ?? code)
        let mode = hierarchy.mode(of: site)
        var entries: [DesiredEntry] = []

        var siteAttributes = [
            LDAPAttribute(SchemaAttribute.objectClass, [SchemaClass.top, SchemaClass.site]),
            LDAPAttribute(SchemaAttribute.cn, "SMS-Site-\(code)"),
            LDAPAttribute(SchemaAttribute.siteCode, code),
            LDAPAttribute(SchemaAttribute.assignmentSiteCode, assignment),
            LDAPAttribute(SchemaAttribute.sourceForest, site.forest.rawValue),
        ]
        let roaming = site.boundaries.compactMap { boundary -> String? in
            switch boundary.value {
            case .subnet(let network): network.subnetID.description
            case .adSite(let name): name
            case .ipv6Prefix(let network): network.description
            case .range: nil
            }
        }
        if !roaming.isEmpty { siteAttributes.append(LDAPAttribute(SchemaAttribute.roamingBoundaries, roaming)) }
        if let publicKey { siteAttributes.append(LDAPAttribute(SchemaAttribute.serviceBindingInformation, publicKey)) }
        entries.append(DesiredEntry(layout.site(site.code), siteAttributes))

        let defaultHost = site.defaultManagementPointHost
        for system in site.managementPoints {
            let scheme = mode == .native ? "https" : "http"
            entries.append(
                DesiredEntry(
                    layout.managementPoint(site.code, host: system.host),
                    [
                        LDAPAttribute(
                            SchemaAttribute.objectClass,
                            [
                                SchemaClass.top, SchemaClass.leaf, SchemaClass.connectionPoint,
                                SchemaClass.serviceConnectionPoint, SchemaClass.managementPoint,
                            ]
                        ),
                        LDAPAttribute(SchemaAttribute.cn, "SMS-MP-\(code)-\(system.host.uppercased())"),
                        LDAPAttribute(SchemaAttribute.siteCode, code),
                        LDAPAttribute(SchemaAttribute.mpName, system.host),
                        LDAPAttribute(SchemaAttribute.dnsHostName, system.host),
                        LDAPAttribute(SchemaAttribute.mpAddress, "\(scheme)://\(system.host)"),
                        LDAPAttribute(SchemaAttribute.defaultMP, system.host == defaultHost ? "TRUE" : "FALSE"),
                        LDAPAttribute(SchemaAttribute.deviceManagementPoint, "FALSE"),
                        LDAPAttribute(SchemaAttribute.version, version),
                        LDAPAttribute(SchemaAttribute.sourceForest, site.forest.rawValue),
                        LDAPAttribute(SchemaAttribute.capabilities, capabilities(code: code, mode: mode)),
                    ]
                )
            )
        }
        for system in site.systems where system.roles.contains(.serverLocatorPoint) {
            entries.append(
                DesiredEntry(
                    layout.serverLocatorPoint(site.code, host: system.host),
                    [
                        LDAPAttribute(
                            SchemaAttribute.objectClass,
                            [
                                SchemaClass.top, SchemaClass.leaf, SchemaClass.connectionPoint,
                                SchemaClass.serviceConnectionPoint, SchemaClass.serverLocatorPoint,
                            ]
                        ),
                        LDAPAttribute(SchemaAttribute.cn, "SMS-SLP-\(code)-\(system.host.uppercased())"),
                        LDAPAttribute(SchemaAttribute.siteCode, code),
                        LDAPAttribute(SchemaAttribute.mpName, system.host),
                        LDAPAttribute(SchemaAttribute.dnsHostName, system.host),
                        LDAPAttribute(SchemaAttribute.sourceForest, site.forest.rawValue),
                    ]
                )
            )
        }
        for boundary in site.boundaries {
            guard case .range(let range) = boundary.value else { continue }
            entries.append(
                DesiredEntry(
                    layout.boundaryRange(site.code, range),
                    [
                        LDAPAttribute(
                            SchemaAttribute.objectClass,
                            [SchemaClass.top, SchemaClass.roamingBoundaryRange, SchemaClass.rangeBlocks]
                        ),
                        LDAPAttribute(SchemaAttribute.cn, "SMS-\(code)-\(range.low)-\(range.high)"),
                        LDAPAttribute(SchemaAttribute.siteCode, code),
                        LDAPAttribute(SchemaAttribute.assignmentSiteCode, assignment),
                        LDAPAttribute(SchemaAttribute.rangedIPLow, String(range.low.value)),
                        LDAPAttribute(SchemaAttribute.rangedIPHigh, String(range.high.value)),
                        LDAPAttribute(SchemaAttribute.sourceForest, site.forest.rawValue),
                        LDAPAttribute(SchemaAttribute.rangeBlock, range.cidrBlocks.map(\.description)),
                    ]
                )
            )
        }
        return entries
    }

    /// The management point's capabilities document: what tools parse out of it (site code, mode).
    static func capabilities(code: String, mode: SiteMode) -> String {
        let ssl = mode == .native ? 1 : 0
        return "<ClientOperationalSettings><Version>4.00.6487.2000</Version>"
            + "<SecurityConfiguration><SecurityModeMask>\(ssl)</SecurityModeMask></SecurityConfiguration>"
            + "<RootSiteCode>\(code)</RootSiteCode><CCM><CommandLine>SMSSITECODE=\(code)</CommandLine></CCM>"
            + "<Capabilities SchemaVersion=\"1.0\"><Property Name=\"SSLState\" Value=\"\(ssl)\"/></Capabilities>"
            + "</ClientOperationalSettings>"
    }
}
