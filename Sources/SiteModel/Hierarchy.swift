/// Where a value stood in the hierarchy file, for error messages.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static let unknown = SourceLocation(line: 0, column: 0)

    public var description: String { "\(line):\(column)" }
}

/// A whole hierarchy: forests, trusts, sites, packages and advertisements (docs/hierarchy-file.md).
///
/// Sites and packages are looked up by code and id on every job a site server handles and for every site the
/// validator checks, so the hierarchy keeps an index of them, rebuilt whenever `sites` or `packages` change (set
/// them whole rather than one element at a time when building a large hierarchy).
public struct Hierarchy: Sendable {
    public var forests: [Forest]
    public var trusts: [Trust]
    public var sites: [Site] { didSet { siteIndex = SiteIndex(sites) } }
    public var packages: [Package] { didSet { packageIndex = Self.index(packages) } }
    public var advertisements: [Advertisement]

    /// Where each code first stands in `sites`, and each site's children, in file order.
    private struct SiteIndex: Sendable {
        var position: [SiteCode: Int] = [:]
        var children: [SiteCode: [Int]] = [:]

        init(_ sites: [Site]) {
            for (index, site) in sites.enumerated() {
                if position[site.code] == nil { position[site.code] = index }
                if let parent = site.parent { children[parent, default: []].append(index) }
            }
        }
    }

    private var siteIndex: SiteIndex
    private var packageIndex: [String: Int]

    public init(
        forests: [Forest] = [],
        trusts: [Trust] = [],
        sites: [Site] = [],
        packages: [Package] = [],
        advertisements: [Advertisement] = []
    ) {
        self.forests = forests
        self.trusts = trusts
        self.sites = sites
        self.packages = packages
        self.advertisements = advertisements
        siteIndex = SiteIndex(sites)
        packageIndex = Self.index(packages)
    }

    private static func index(_ packages: [Package]) -> [String: Int] {
        var index: [String: Int] = [:]
        for (position, package) in packages.enumerated() where index[package.id] == nil { index[package.id] = position }
        return index
    }

    /// The first site with this code.
    public func site(_ code: SiteCode) -> Site? { siteIndex.position[code].map { sites[$0] } }
    public func forest(_ name: ForestName) -> Forest? { forests.first { $0.name == name } }
    public func children(of code: SiteCode) -> [Site] { (siteIndex.children[code] ?? []).map { sites[$0] } }
    /// The first package with this id (ids are upper case).
    public func package(_ id: String) -> Package? { packageIndex[id].map { packages[$0] } }

    /// Whether one site is the other's parent: the only sites that talk to each other.
    public func areNeighbours(_ first: SiteCode, _ second: SiteCode) -> Bool {
        site(first)?.parent == second || site(second)?.parent == first
    }

    /// Whether `code` is `root` or below it. Walks up from `code`, at most once per site, so a file with a cycle
    /// cannot make it loop.
    public func isInSubtree(_ code: SiteCode, of root: SiteCode) -> Bool {
        var current: SiteCode? = code
        for _ in 0...sites.count {
            guard let at = current else { return false }
            if at == root { return true }
            current = site(at)?.parent
        }
        return false
    }

    /// The site's mode: its own, or for a secondary its parent's.
    /// Bounded by the number of sites, so a parent cycle in a file that did not validate cannot make it loop.
    public func mode(of site: Site) -> SiteMode {
        var current = site
        for _ in 0...sites.count {
            if let mode = current.mode { return mode }
            guard current.type == .secondary, let parent = current.parent.flatMap(self.site) else { return .mixed }
            current = parent
        }
        return .mixed
    }
}

public enum FunctionalLevel: String, Sendable, CaseIterable, Comparable {
    case windows2000, windows2003interim, windows2003, windows2008, windows2008r2

    /// The value of `msDS-Behavior-Version`.
    public var behaviorVersion: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.behaviorVersion < rhs.behaviorVersion }
}

public enum ServerOS: String, Sendable, CaseIterable, Comparable {
    case windows2000, windows2003, windows2008, windows2008r2

    /// The `operatingSystem` text of a computer entry.
    public var operatingSystem: String {
        switch self {
        case .windows2000: "Windows 2000 Server"
        case .windows2003: "Windows Server 2003"
        case .windows2008: "Windows Server 2008"
        case .windows2008r2: "Windows Server 2008 R2"
        }
    }

    public var operatingSystemVersion: String {
        switch self {
        case .windows2000: "5.0 (2195)"
        case .windows2003: "5.2 (3790)"
        case .windows2008: "6.0 (6001)"
        case .windows2008r2: "6.1 (7600)"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public struct Forest: Sendable {
    public var name: ForestName
    public var functionalLevel: FunctionalLevel
    public var serverOS: ServerOS
    /// LDAP URIs of the forest's directory, tried in order.
    public var directory: [String]
    /// The forest's Active Directory sites and their subnets (`cn=Sites,cn=Configuration`).
    public var adSites: [ADSite]
    public var location: SourceLocation

    public init(
        name: ForestName,
        functionalLevel: FunctionalLevel,
        serverOS: ServerOS,
        directory: [String] = [],
        adSites: [ADSite] = [],
        location: SourceLocation = .unknown
    ) {
        self.name = name
        self.functionalLevel = functionalLevel
        self.serverOS = serverOS
        self.directory = directory
        self.adSites = adSites
        self.location = location
    }

    /// The AD site a name stands for, matched as Active Directory matches names: without regard to case.
    public func adSite(named name: String) -> ADSite? {
        adSites.first { $0.name.lowercased() == name.lowercased() }
    }
}

/// An Active Directory site of a forest, with the subnets whose addresses belong to it.
public struct ADSite: Sendable {
    public var name: String
    public var subnets: [ADSubnet]
    public var location: SourceLocation

    public init(name: String, subnets: [ADSubnet], location: SourceLocation = .unknown) {
        self.name = name
        self.subnets = subnets
        self.location = location
    }

    /// An AD site name as Active Directory accepts one without warning: 1–63 letters, digits and hyphens, not
    /// starting or ending with a hyphen (it is also a DNS label, in `_ldap._tcp.<site>._sites.<forest>`).
    public static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.count) && !name.hasPrefix("-") && !name.hasSuffix("-")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}

/// A subnet object's network: IPv4 or IPv6, named as Active Directory names subnet objects (`10.20.0.0/16`,
/// `2001:db8:10::/64`).
public enum ADSubnet: Hashable, Sendable, CustomStringConvertible {
    case ipv4(IPv4Network)
    case ipv6(IPv6Network)

    /// Parses a CIDR block with the host bits zero.
    public init?(_ text: some StringProtocol) {
        if let network = IPv4Network(text) {
            self = .ipv4(network)
        } else if let network = IPv6Network(text) {
            self = .ipv6(network)
        } else {
            return nil
        }
    }

    public var prefixLength: Int {
        switch self {
        case .ipv4(let network): network.prefixLength
        case .ipv6(let network): network.prefixLength
        }
    }

    public var description: String {
        switch self {
        case .ipv4(let network): network.description
        case .ipv6(let network): network.description
        }
    }
}

public struct Trust: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case forest, external }
    public enum Direction: String, Sendable, CaseIterable { case twoWay, oneWay }

    /// For `oneWay`, the first forest trusts the second.
    public var forests: [ForestName]
    public var kind: Kind
    public var transitive: Bool
    public var direction: Direction
    public var location: SourceLocation

    public init(
        forests: [ForestName],
        kind: Kind,
        transitive: Bool,
        direction: Direction,
        location: SourceLocation = .unknown
    ) {
        self.forests = forests
        self.kind = kind
        self.transitive = transitive
        self.direction = direction
        self.location = location
    }
}

public enum SiteType: String, Sendable, CaseIterable { case primary, secondary }
public enum SiteMode: String, Sendable, CaseIterable { case mixed, native }
public enum ConnectionSpeed: String, Sendable, CaseIterable { case fast, slow }

/// What a boundary names.
public enum BoundaryValue: Hashable, Sendable, CustomStringConvertible {
    case subnet(IPv4Network)
    case range(IPv4Range)
    case adSite(String)
    case ipv6Prefix(IPv6Network)

    /// The text the file and `protectedBoundaries` use: CIDR, `low-high`, or the AD site name.
    public var description: String {
        switch self {
        case .subnet(let network): network.description
        case .range(let range): range.description
        case .adSite(let name): name
        case .ipv6Prefix(let network): network.description
        }
    }

    /// Compares AD site names case-insensitively, as clients report them.
    public var comparisonKey: String {
        if case .adSite(let name) = self { return "adSite:" + name.lowercased() }
        return description
    }
}

public struct Boundary: Sendable {
    public var value: BoundaryValue
    public var connection: ConnectionSpeed
    public var location: SourceLocation

    public init(_ value: BoundaryValue, connection: ConnectionSpeed = .fast, location: SourceLocation = .unknown) {
        self.value = value
        self.connection = connection
        self.location = location
    }
}

public enum SiteRole: String, Sendable, CaseIterable {
    case managementPoint, distributionPoint, serverLocatorPoint, fallbackStatusPoint, softwareUpdatePoint
    case systemHealthValidator, reportingPoint, stateMigrationPoint, pxeServicePoint
}

public struct SiteSystem: Sendable {
    public var host: String
    public var roles: [SiteRole]
    /// nil: the site's forest.
    public var forest: ForestName?
    public var internetFacing: Bool
    public var protectedBoundaries: [BoundaryValue]
    public var location: SourceLocation

    public init(
        host: String,
        roles: [SiteRole],
        forest: ForestName? = nil,
        internetFacing: Bool = false,
        protectedBoundaries: [BoundaryValue] = [],
        location: SourceLocation = .unknown
    ) {
        self.host = host
        self.roles = roles
        self.forest = forest
        self.internetFacing = internetFacing
        self.protectedBoundaries = protectedBoundaries
        self.location = location
    }
}

public enum SenderType: String, Sendable, CaseIterable {
    case standard, courier, asyncRas, isdnRas, x25Ras, snaRas
}

public enum Weekday: String, Sendable, CaseIterable {
    case sun, mon, tue, wed, thu, fri, sat
}

public enum ScheduleAllowance: String, Sendable, CaseIterable {
    case all, mediumAndHigh, highOnly, closed
}

public struct ScheduleEntry: Sendable {
    public var days: [Weekday]
    public var startHour: Int
    public var endHour: Int
    public var allow: ScheduleAllowance
    public var location: SourceLocation

    public init(
        days: [Weekday],
        startHour: Int,
        endHour: Int,
        allow: ScheduleAllowance,
        location: SourceLocation = .unknown
    ) {
        self.days = days
        self.startHour = startHour
        self.endHour = endHour
        self.allow = allow
        self.location = location
    }

    /// Whether it covers the hour of the week (0 = Sunday 00:00), without building ``hoursOfWeek``: route
    /// planning asks this for every address, hour by hour.
    public func covers(hourOfWeek hour: Int) -> Bool {
        let length = endHour > startHour ? endHour - startHour : 24 - startHour + endHour
        return days.contains { day in
            let start = Weekday.allCases.firstIndex(of: day)! * 24 + startHour
            return (hour - start + 7 * 24) % (7 * 24) < length
        }
    }

    /// The hours of the week it covers, 0 = Sunday 00:00; a range past midnight runs into the next day.
    public var hoursOfWeek: Set<Int> {
        var hours = Set<Int>()
        for day in days {
            let base = Weekday.allCases.firstIndex(of: day)! * 24
            let length = endHour > startHour ? endHour - startHour : 24 - startHour + endHour
            for offset in 0..<length { hours.insert((base + startHour + offset) % (7 * 24)) }
        }
        return hours
    }
}

public enum RateLimit: Sendable {
    case unlimited
    case pulse(blockKB: Int, delaySeconds: Int)
    /// Percent of the link per hour range, e.g. `"08-18": 25`.
    case hourly([(startHour: Int, endHour: Int, percent: Int)])
}

public struct Address: Sendable {
    public var to: SiteCode
    public var sender: SenderType
    public var priority: Int
    public var destination: String?
    public var schedule: [ScheduleEntry]
    public var rateLimit: RateLimit
    public var unavailableToSubstitute: Bool
    public var location: SourceLocation

    public init(
        to: SiteCode,
        sender: SenderType,
        priority: Int,
        destination: String? = nil,
        schedule: [ScheduleEntry] = [],
        rateLimit: RateLimit = .unlimited,
        unavailableToSubstitute: Bool = false,
        location: SourceLocation = .unknown
    ) {
        self.to = to
        self.sender = sender
        self.priority = priority
        self.destination = destination
        self.schedule = schedule
        self.rateLimit = rateLimit
        self.unavailableToSubstitute = unavailableToSubstitute
        self.location = location
    }
}

public struct SenderSettings: Sendable {
    public var maxConcurrentAllSites = 5
    public var maxConcurrentPerSite = 3
    public var retries = 2
    public var retryDelayMinutes = 1

    public init() {}
}

public struct Site: Sendable {
    public var code: SiteCode
    public var name: String?
    public var type: SiteType
    public var parent: SiteCode?
    public var forest: ForestName
    /// nil: not given (a secondary inherits its parent's; a primary is mixed).
    public var mode: SiteMode?
    public var server: String
    public var publish: Bool
    public var defaultManagementPoint: String?
    public var boundaries: [Boundary]
    public var systems: [SiteSystem]
    public var addresses: [Address]
    public var senderSettings: SenderSettings
    public var location: SourceLocation

    public init(
        code: SiteCode,
        name: String? = nil,
        type: SiteType,
        parent: SiteCode? = nil,
        forest: ForestName,
        mode: SiteMode? = nil,
        server: String,
        publish: Bool = true,
        defaultManagementPoint: String? = nil,
        boundaries: [Boundary] = [],
        systems: [SiteSystem] = [],
        addresses: [Address] = [],
        senderSettings: SenderSettings = SenderSettings(),
        location: SourceLocation = .unknown
    ) {
        self.code = code
        self.name = name
        self.type = type
        self.parent = parent
        self.forest = forest
        self.mode = mode
        self.server = server
        self.publish = publish
        self.defaultManagementPoint = defaultManagementPoint
        self.boundaries = boundaries
        self.systems = systems
        self.addresses = addresses
        self.senderSettings = senderSettings
        self.location = location
    }

    public var managementPoints: [SiteSystem] { systems.filter { $0.roles.contains(.managementPoint) } }

    /// The default management point: the one named, else the first management point.
    public var defaultManagementPointHost: String? {
        defaultManagementPoint ?? managementPoints.first?.host
    }
}

public struct Package: Sendable {
    public var id: String
    public var name: String?
    public var sourceSite: SiteCode
    public var sizeKB: Int
    public var distributionPoints: [String]
    public var location: SourceLocation

    public init(
        id: String,
        name: String? = nil,
        sourceSite: SiteCode,
        sizeKB: Int = 0,
        distributionPoints: [String] = [],
        location: SourceLocation = .unknown
    ) {
        self.id = id
        self.name = name
        self.sourceSite = sourceSite
        self.sizeKB = sizeKB
        self.distributionPoints = distributionPoints
        self.location = location
    }
}

public struct Advertisement: Sendable {
    public enum FastAction: String, Sendable, CaseIterable { case downloadAndRun, runFromDP }
    public enum SlowAction: String, Sendable, CaseIterable { case doNotRun, downloadAndRun, runFromDP }

    public var id: String
    public var package: String
    public var fastBoundary: FastAction
    public var slowBoundary: SlowAction
    public var allowFallbackToUnprotected: Bool
    public var location: SourceLocation

    public init(
        id: String,
        package: String,
        fastBoundary: FastAction = .downloadAndRun,
        slowBoundary: SlowAction = .doNotRun,
        allowFallbackToUnprotected: Bool = false,
        location: SourceLocation = .unknown
    ) {
        self.id = id
        self.package = package
        self.fastBoundary = fastBoundary
        self.slowBoundary = slowBoundary
        self.allowFallbackToUnprotected = allowFallbackToUnprotected
        self.location = location
    }
}

extension ADSubnet {
    /// Whether `address` lies in this subnet (an IPv4 subnet never holds an IPv6 address, nor the other way).
    public func contains(_ address: ClientAddress) -> Bool {
        switch (self, address) {
        case (.ipv4(let network), .v4(let address, _)):
            address.masked(to: network.prefixLength) == network.address
        case (.ipv6(let network), .v6(let address, _)):
            address.masked(to: network.prefixLength) == network.address.masked(to: network.prefixLength)
        default:
            false
        }
    }

    /// Every subnet name that can hold `address`, longest prefix first: `10.20.5.5/32` … `0.0.0.0/0` (33), or
    /// the 129 IPv6 prefixes. A directory finds the subnet objects containing an address by these names alone.
    public static func enclosing(_ address: ClientAddress) -> [ADSubnet] {
        switch address {
        case .v4(let address, _): address.enclosingNetworks.map(ADSubnet.ipv4)
        case .v6(let address, _): address.enclosingNetworks.map(ADSubnet.ipv6)
        }
    }
}

/// Which AD site an address belongs to, decided as Windows' DC locator decides it (DsGetSiteName): the subnet
/// object with the longest prefix that contains the address names the site; no subnet, no site.
public enum ADSiteDecision {
    /// The site named by the longest of `subnets` (each with the site it names) containing `address`.
    public static func site<Site>(
        of address: ClientAddress,
        among subnets: [(subnet: ADSubnet, site: Site)]
    ) -> (
        subnet: ADSubnet, site: Site
    )? {
        subnets.filter { $0.subnet.contains(address) }.max { $0.subnet.prefixLength < $1.subnet.prefixLength }
    }
}
