public import SiteModel

/// What the cross-forest rules need to know about the forests: their functional levels, their site servers'
/// operating systems and the trusts between them. From the hierarchy file, or read from each forest's directory.
public struct ForestFacts: Sendable {
    /// Nil when the directory holds a level siteloc does not know.
    public var functionalLevels: [ForestName: FunctionalLevel?]
    /// The oldest operating system among the forest's site servers; nil when none is known.
    public var serverOS: [ForestName: ServerOS?]
    public var trusts: [Trust]

    public init(
        functionalLevels: [ForestName: FunctionalLevel?],
        serverOS: [ForestName: ServerOS?],
        trusts: [Trust]
    ) {
        self.functionalLevels = functionalLevels
        self.serverOS = serverOS
        self.trusts = trusts
    }

    /// The facts as the hierarchy file states them.
    public init(hierarchy: Hierarchy) {
        functionalLevels = Dictionary(uniqueKeysWithValues: hierarchy.forests.map { ($0.name, $0.functionalLevel) })
        serverOS = Dictionary(uniqueKeysWithValues: hierarchy.forests.map { ($0.name, $0.serverOS) })
        trusts = hierarchy.trusts
    }
}

/// A place where the hierarchy crosses a forest boundary.
public struct Crossing: Sendable, Hashable, Encodable {
    public enum Kind: String, Sendable, Encodable {
        case siteLink = "site-link"
        case siteSystem = "site-system"
    }

    public var kind: Kind
    /// The site (the child, for a link).
    public var from: String
    /// The parent site, or the site system's host.
    public var to: String
    public var forests: [String]
}

/// A rule a crossing or a placement breaks (a violation), or a weakness worth knowing (a warning).
public struct TrustFinding: Sendable, Hashable, Encodable {
    public var rule: TrustRule
    public var site: String?
    public var system: String?
    public var forests: [String]
    public var message: String
    /// What would make the hierarchy comply.
    public var fix: String

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule.rawValue, forKey: .rule)
        try container.encode(site, forKey: .site)
        try container.encode(system, forKey: .system)
        try container.encode(forests, forKey: .forests)
        try container.encode(message, forKey: .message)
        try container.encode(fix, forKey: .fix)
    }

    enum CodingKeys: String, CodingKey { case rule, site, system, forests, message, fix }
}

/// The rules of docs/trust-rules.md, by the names the report uses.
public enum TrustRule: String, Sendable, CaseIterable, Encodable {
    case serverOS = "server-os"
    case forestFunctionalLevel = "forest-functional-level"
    case noTransitiveTrust = "no-transitive-trust"
    case oneWayTrust = "one-way-trust"
    case secondarySiteInOtherForest = "secondary-site-in-other-forest"
    case roleNotSupportedAcrossForest = "role-not-supported-across-forest"

    /// Warnings do not make the check fail.
    public var isWarning: Bool { self == .oneWayTrust }
}

/// The result of `siteloc trust check`, in the JSON of the spec.
public struct TrustReport: Sendable, Encodable {
    public var crossings: [Crossing]
    public var violations: [TrustFinding]
    public var warnings: [TrustFinding]
    public var ok: Bool { violations.isEmpty }

    enum CodingKeys: String, CodingKey { case ok, crossings, violations, warnings }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ok, forKey: .ok)
        try container.encode(crossings, forKey: .crossings)
        try container.encode(violations, forKey: .violations)
        try container.encode(warnings, forKey: .warnings)
    }
}

/// Checks every crossing of the hierarchy against the communication rules and every placement against the
/// placement rules (docs/trust-rules.md).
public enum TrustCheck {
    /// Roles a site system may hold in another forest than its site's when it serves Internet-based clients.
    public static let internetRoles: Set<SiteRole> = [
        .managementPoint, .distributionPoint, .softwareUpdatePoint, .fallbackStatusPoint,
    ]

    public static func check(_ hierarchy: Hierarchy, facts: ForestFacts) -> TrustReport {
        var report = TrustReport(crossings: [], violations: [], warnings: [])
        func add(_ finding: TrustFinding) {
            if finding.rule.isWarning {
                if !report.warnings.contains(finding) { report.warnings.append(finding) }
            } else if !report.violations.contains(finding) {
                report.violations.append(finding)
            }
        }
        for site in hierarchy.sites {
            if let parentCode = site.parent, let parent = hierarchy.site(parentCode), parent.forest != site.forest {
                let crossing = Crossing(
                    kind: .siteLink,
                    from: site.code.rawValue,
                    to: parent.code.rawValue,
                    forests: [site.forest.rawValue, parent.forest.rawValue]
                )
                report.crossings.append(crossing)
                communication(crossing, site: site.code, system: nil, facts: facts).forEach(add)
                if site.type == .secondary {
                    add(
                        TrustFinding(
                            rule: .secondarySiteInOtherForest,
                            site: site.code.rawValue,
                            system: nil,
                            forests: crossing.forests,
                            message: "secondary site \(site.code) is in \(site.forest), but its parent primary site"
                                + " \(parent.code) is in \(parent.forest); a secondary site must be in its parent's forest",
                            fix: "move \(site.code) into \(parent.forest), or make it a primary site"
                        )
                    )
                }
            }
            for system in site.systems {
                guard let forest = system.forest, forest != site.forest else { continue }
                let crossing = Crossing(
                    kind: .siteSystem,
                    from: site.code.rawValue,
                    to: system.host,
                    forests: [site.forest.rawValue, forest.rawValue]
                )
                report.crossings.append(crossing)
                communication(crossing, site: site.code, system: system.host, facts: facts).forEach(add)
                let roles = Set(system.roles)
                let allowed =
                    roles.isSubset(of: [.systemHealthValidator])
                    || (system.internetFacing && roles.isSubset(of: internetRoles))
                if !allowed {
                    let unsupported = roles.subtracting(
                        system.internetFacing ? internetRoles : [.systemHealthValidator]
                    )
                    let names = unsupported.map(\.rawValue).sorted().joined(separator: ", ")
                    add(
                        TrustFinding(
                            rule: .roleNotSupportedAcrossForest,
                            site: site.code.rawValue,
                            system: system.host,
                            forests: crossing.forests,
                            message: "site system \(system.host) of site \(site.code) (\(site.forest)) is in \(forest)"
                                + " and holds \(names), which cannot cross a forest boundary"
                                + (system.internetFacing ? " even for Internet-based clients" : ""),
                            fix: system.internetFacing
                                ? "move \(names) to a server in \(site.forest); across forests an Internet-facing system"
                                    + " holds only managementPoint, distributionPoint, softwareUpdatePoint, fallbackStatusPoint"
                                : "move \(names) to a server in \(site.forest), or, for Internet-based client management,"
                                    + " mark the system internetFacing (managementPoint, distributionPoint,"
                                    + " softwareUpdatePoint, fallbackStatusPoint only); systemHealthValidator may stay"
                        )
                    )
                }
            }
        }
        return report
    }

    /// The communication rules for the two forests a crossing joins.
    static func communication(
        _ crossing: Crossing,
        site: SiteCode,
        system: String?,
        facts: ForestFacts
    )
        -> [TrustFinding]
    {
        var findings: [TrustFinding] = []
        let forests = crossing.forests.compactMap { try? ForestName($0) }
        guard forests.count == 2 else { return [] }
        func finding(_ rule: TrustRule, _ message: String, _ fix: String) -> TrustFinding {
            TrustFinding(
                rule: rule,
                site: site.rawValue,
                system: system,
                forests: crossing.forests,
                message: message,
                fix: fix
            )
        }
        let what = system.map { "site system \($0) of site \(site)" } ?? "the link from \(site) to \(crossing.to)"
        for forest in forests {
            switch facts.serverOS[forest] ?? nil {
            case .some(let os) where os >= .windows2003: break
            case .some(let os):
                findings.append(
                    finding(
                        .serverOS,
                        "\(what) crosses into \(forest), whose site servers run \(os.operatingSystem); communication"
                            + " across forests needs Windows Server 2003 or later on both sides",
                        "upgrade the site servers of \(forest) to Windows Server 2003 or later (serverOS)"
                    )
                )
            case .none:
                findings.append(
                    finding(
                        .serverOS,
                        "\(what) crosses into \(forest), whose site servers' operating system is not known",
                        "give \(forest)'s site servers a computer entry with operatingSystem Windows Server 2003 or later"
                    )
                )
            }
        }
        for forest in forests {
            let level = facts.functionalLevels[forest] ?? nil
            if let level, level >= .windows2003 { continue }
            findings.append(
                finding(
                    .forestFunctionalLevel,
                    "\(what) crosses into \(forest), whose forest functional level is "
                        + (level?.rawValue ?? "unknown") + "; communication across forests needs windows2003 or higher"
                        + (level == .windows2003interim ? " (windows2003interim is not enough)" : ""),
                    "raise the forest functional level of \(forest) to windows2003 or higher"
                )
            )
        }
        let qualifying = facts.trusts.filter {
            Set($0.forests) == Set(forests) && $0.kind == .forest && $0.transitive
        }
        if qualifying.isEmpty {
            let other = facts.trusts.first { Set($0.forests) == Set(forests) }
            findings.append(
                finding(
                    .noTransitiveTrust,
                    "\(what) joins \(forests[0]) and \(forests[1]), which have "
                        + (other.map { "only a \($0.transitive ? "" : "non-transitive ")\($0.kind.rawValue) trust" }
                            ?? "no trust between them")
                        + "; communication across forests needs a transitive forest trust (trusts do not chain)",
                    "create a two-way transitive forest trust between \(forests[0]) and \(forests[1])"
                )
            )
        } else if !qualifying.contains(where: { $0.direction == .twoWay }) {
            findings.append(
                finding(
                    .oneWayTrust,
                    "the forest trust between \(forests[0]) and \(forests[1]) runs one way only; sites on the trusted"
                        + " side cannot reach the other",
                    "make the forest trust between \(forests[0]) and \(forests[1]) two-way"
                )
            )
        }
        return findings
    }
}
