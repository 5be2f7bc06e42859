public import SiteDirectory
public import SiteModel
import Synchronization

/// A client, as docs/roaming-and-content.md describes it.
public struct ClientProfile: Sendable {
    public enum Membership: Sendable, Hashable {
        case forest(String)
        case workgroup
        case mobile
    }

    public var address: ClientAddress
    public var assignedSite: SiteCode
    public var membership: Membership
    public var adSite: String?
    public var allowHTTPRoaming: Bool

    public init(
        address: ClientAddress,
        assignedSite: SiteCode,
        membership: Membership,
        adSite: String? = nil,
        allowHTTPRoaming: Bool = false
    ) {
        self.address = address
        self.assignedSite = assignedSite
        self.membership = membership
        self.adSite = adSite
        self.allowHTTPRoaming = allowHTTPRoaming
    }
}

/// What the client learns from its forest's directory.
public enum DirectoryAnswer: Sendable {
    case unreachable(String)
    case schemaNotExtended
    /// The boundaries containing the client, the default management points of the sites they belong to, and the
    /// AD site the client learned from the forest's subnet objects (when it was not given one).
    case answered(
        [BoundaryMatch],
        residentManagementPoints: [SiteCode: ResidentManagementPoint],
        learnedADSite: LearnedADSite? = nil
    )
}

/// A roamed site's default management point as published: its host and the site's mode (from its URL).
public struct ResidentManagementPoint: Sendable, Hashable {
    public var host: String
    public var mode: SiteMode

    public init(host: String, mode: SiteMode) {
        self.host = host
        self.mode = mode
    }
}

/// Asks a forest's directory the questions a roaming client asks, within a bounded time.
public protocol SiteDirectoryClient: Sendable {
    func ask(_ client: ClientProfile, trace: @escaping @Sendable (String) -> Void) async -> DirectoryAnswer
}

/// The result of `siteloc locate` (docs/roaming-and-content.md, "Output"); the field names are part of the contract.
public struct Location: Sendable, Codable {
    public struct Boundary: Sendable, Codable, Hashable {
        public var type: String
        public var value: String
        public var site: String
    }

    public var roaming: String
    public var regionalReason: String?
    public var assignedSite: String
    public var roamedSite: String?
    public var atHome: Bool?
    public var ambiguous: Bool
    public var boundary: Boundary?
    public var defaultManagementPoint: String?
    public var residentManagementPoint: String?
    public var managementPoint: String?
    public var modeMismatch: Bool
    public var trace: [String]
    /// The AD site the client learned from its forest's subnet objects; what it says of its AD site to its
    /// management point (not part of `locate`'s output, whose trace names it).
    public var adSite: String?

    public var isGlobal: Bool { roaming == "global" }

    enum CodingKeys: String, CodingKey {
        case roaming, regionalReason, assignedSite, roamedSite, atHome, ambiguous, boundary
        case defaultManagementPoint, residentManagementPoint, managementPoint, modeMismatch, trace
    }

    /// Every field is written, absent ones as null: the spec's JSON has them all.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(roaming, forKey: .roaming)
        try container.encode(regionalReason, forKey: .regionalReason)
        try container.encode(assignedSite, forKey: .assignedSite)
        try container.encode(roamedSite, forKey: .roamedSite)
        try container.encode(atHome, forKey: .atHome)
        try container.encode(ambiguous, forKey: .ambiguous)
        try container.encode(boundary, forKey: .boundary)
        try container.encode(defaultManagementPoint, forKey: .defaultManagementPoint)
        try container.encode(residentManagementPoint, forKey: .residentManagementPoint)
        try container.encode(managementPoint, forKey: .managementPoint)
        try container.encode(modeMismatch, forKey: .modeMismatch)
        try container.encode(trace, forKey: .trace)
    }
}

/// Finds where a client is and which management point it talks to (steps 1 and 2), and where it gets content
/// (step 3), knowing only what a real client would: its own settings, directory answers and management-point
/// answers. The hierarchy is used for the client's own assigned site (its forest, mode and default management
/// point, which a client is installed with) and behind the management points, which answer from their sites'
/// databases.
public struct Locator: Sendable {
    let hierarchy: Hierarchy
    public let directory: @Sendable (ForestName) -> (any SiteDirectoryClient)?
    let holders: (@Sendable (SiteCode, String) -> Set<String>)?
    let managementPoints: (@Sendable (String) -> (any ManagementPoint)?)?

    /// `directory` gives the client of a forest's directory, or nil when none is known. `holders` gives, for a
    /// management point's site and a package, the distribution points that site knows to hold it (what its
    /// database says); by default the file's lists. `managementPoints`, when given, is how a management point is
    /// reached (over the network, say) instead of answering in this process.
    public init(
        hierarchy: Hierarchy,
        holders: (@Sendable (SiteCode, String) -> Set<String>)? = nil,
        managementPoints: (@Sendable (String) -> (any ManagementPoint)?)? = nil,
        directory: @escaping @Sendable (ForestName) -> (any SiteDirectoryClient)?
    ) {
        self.hierarchy = hierarchy
        self.holders = holders
        self.managementPoints = managementPoints
        self.directory = directory
    }

    public func locate(_ client: ClientProfile) async throws(LocatorError) -> Location {
        guard let assigned = hierarchy.site(client.assignedSite) else {
            throw LocatorError(
                "assigned site \(client.assignedSite) is not in the hierarchy; expected one of \(hierarchy.sites.filter { $0.type == .primary }.map(\.code.rawValue).joined(separator: ", "))"
            )
        }
        guard assigned.type == .primary else {
            throw LocatorError("\(client.assignedSite) is a secondary site; clients are assigned to primary sites only")
        }
        let trace = TraceLog()
        let defaultMP = assigned.defaultManagementPointHost
        trace.add(
            "assigned to \(assigned.code) (\(hierarchy.mode(of: assigned).rawValue) mode); default management point \(defaultMP ?? "none")"
        )
        var location = Location(
            roaming: "regional",
            regionalReason: nil,
            assignedSite: assigned.code.rawValue,
            roamedSite: nil,
            atHome: nil,
            ambiguous: false,
            boundary: nil,
            defaultManagementPoint: defaultMP,
            residentManagementPoint: nil,
            managementPoint: defaultMP,
            modeMismatch: false,
            trace: []
        )
        func regional(_ reason: String, _ why: String) -> Location {
            trace.add("regional roaming (\(reason)): \(why); everything goes to the default management point")
            location.regionalReason = reason
            location.trace = trace.lines
            return location
        }

        let forestName: String
        switch client.membership {
        case .mobile: return regional("mobile-device", "mobile devices cannot read the directory")
        case .workgroup: return regional("workgroup", "workgroup clients cannot read the directory")
        case .forest(let name): forestName = name.lowercased()
        }
        guard forestName == assigned.forest.rawValue, let forest = try? ForestName(forestName) else {
            return regional(
                "other-forest",
                "the client is in forest \(forestName), its site publishes to \(assigned.forest)"
            )
        }
        guard let directoryClient = directory(forest) else {
            return regional("directory-unreachable", "no directory is known for forest \(forest)")
        }
        let answer = await directoryClient.ask(client) { trace.add($0) }
        let matches: [BoundaryMatch]
        let residents: [SiteCode: ResidentManagementPoint]
        switch answer {
        case .unreachable(let why): return regional("directory-unreachable", why)
        case .schemaNotExtended:
            return regional("schema-not-extended", "the directory lacks the Configuration Manager classes")
        case .answered(let found, let published, let learned):
            matches = found
            residents = published
            location.adSite = learned?.site
        }
        location.roaming = "global"
        let candidates = matches.enumerated().map { index, match in
            BoundaryCandidate(
                kind: BoundaryCandidate.Kind(rawValue: match.kind.rawValue)!,
                value: match.value,
                site: match.site,
                span: match.span,
                order: index
            )
        }
        guard let selection = BoundaryMatching.select(candidates) else {
            trace.add("global roaming: no published boundary contains the client; it uses its default management point")
            location.trace = trace.lines
            return location
        }
        let roamed = selection.boundary.site
        location.roamedSite = roamed.rawValue
        location.atHome = roamed == assigned.code
        location.ambiguous = selection.ambiguous
        location.boundary = Location.Boundary(
            type: selection.boundary.kind.rawValue,
            value: selection.boundary.value,
            site: roamed.rawValue
        )
        trace.add(
            "global roaming: in \(selection.boundary.kind.rawValue) \(selection.boundary.value) of site \(roamed)"
                + (selection.ambiguous ? " (ambiguous: boundaries of several sites match; lowest site code)" : "")
        )
        guard let resident = residents[roamed] else {
            trace.add("site \(roamed) publishes no management point: the client uses its default management point")
            location.trace = trace.lines
            return location
        }
        location.residentManagementPoint = resident.host
        let clientMode = hierarchy.mode(of: assigned)
        if roamed != assigned.code
            && !modeAllows(client: clientMode, site: resident.mode, allowHTTPRoaming: client.allowHTTPRoaming)
        {
            location.modeMismatch = true
            trace.add(
                "\(resident.host) is a \(resident.mode.rawValue)-mode site's; a \(clientMode.rawValue)-mode client may not use it"
            )
        } else {
            location.managementPoint = resident.host
            trace.add("resident management point \(resident.host)")
        }
        location.trace = trace.lines
        return location
    }

    /// The content flow: ask the management point found by `locate`, and the default one when a resident
    /// management point has nothing.
    public func content(
        _ client: ClientProfile,
        package: Package,
        advertisement: Advertisement?
    ) async throws(LocatorError) -> ContentLocation {
        try await content(client, packageID: package.id, advertisement: advertisement)
    }

    /// The content flow for a package known by its id only (what a real client knows).
    public func content(
        _ client: ClientProfile,
        packageID: String,
        advertisement: Advertisement?
    ) async throws(LocatorError) -> ContentLocation {
        var location = try await locate(client)
        let assigned = hierarchy.site(client.assignedSite)!
        let request = ContentRequest(
            package: packageID,
            address: client.address,
            adSite: client.adSite ?? location.adSite,
            clientMode: hierarchy.mode(of: assigned),
            allowHTTPRoaming: client.allowHTTPRoaming,
            allowFallbackToUnprotected: advertisement?.allowFallbackToUnprotected ?? false
        )
        var answeredBy: String? = nil
        var answer = ContentAnswer(distributionPoints: [], trace: [])
        var fellBack = false
        var unanswered: [String] = []
        /// Asks a management point; one that cannot be reached or fails is noted, and counts as an empty answer.
        func ask(_ host: String) async -> Bool {
            guard let mp = managementPoint(host) else {
                location.trace.append("\(host): no such management point known")
                unanswered.append(host)
                return false
            }
            do {
                answer = try await mp.locateContent(request)
                location.trace += answer.trace
                answeredBy = host
                return true
            } catch {
                location.trace.append("\(host) did not answer: \(error)")
                unanswered.append(host)
                return false
            }
        }
        if let host = location.managementPoint {
            let answered = await ask(host)
            let askedResident = host == location.residentManagementPoint && host != location.defaultManagementPoint
            if askedResident && answer.distributionPoints.isEmpty, let fallback = location.defaultManagementPoint {
                location.trace.append(
                    "\(host) \(answered ? "has nothing for \(packageID)" : "is out of reach"): asking the default"
                        + " management point \(fallback)"
                )
                answer = ContentAnswer(distributionPoints: [], trace: [])
                fellBack = await ask(fallback)
            }
        } else {
            location.trace.append("no management point to ask")
        }
        let decision = ContentDecision.decide(answer.distributionPoints, advertisement: advertisement)
        location.trace.append("decision: \(decision.rawValue)")
        return ContentLocation(
            location: location,
            package: packageID,
            advertisement: advertisement?.id,
            answeredBy: answeredBy,
            fellBackToDefaultManagementPoint: fellBack,
            decision: decision.rawValue,
            distributionPoints: decision == .wait || decision == .unavailable ? [] : answer.distributionPoints,
            unansweredManagementPoints: unanswered
        )
    }

    /// The management point of a host: reached as `managementPoints` says, else answering from its site's
    /// database in this process.
    func managementPoint(_ host: String) -> (any ManagementPoint)? {
        if let managementPoints { return managementPoints(host) }
        guard let site = hierarchy.sites.first(where: { $0.managementPoints.contains { $0.host == host.lowercased() } })
        else { return nil }
        let holders = holders.map { known in { @Sendable package in known(site.code, package) } }
        return SiteDatabaseManagementPoint(site: site.code, host: host, hierarchy: hierarchy, holders: holders)
    }
}

/// The result of `siteloc content`: the location and the answer the client acts on.
public struct ContentLocation: Sendable, Encodable {
    public var location: Location
    public var package: String
    public var advertisement: String?
    public var answeredBy: String?
    public var fellBackToDefaultManagementPoint: Bool
    public var decision: String
    public var distributionPoints: [DistributionPointOffer]
    /// Management points asked that did not answer (out of reach, or an error).
    public var unansweredManagementPoints: [String] = []

    enum Keys: String, CodingKey {
        case package, advertisement, answeredBy, fellBackToDefaultManagementPoint, decision, distributionPoints
        case unansweredManagementPoints
    }

    public func encode(to encoder: any Encoder) throws {
        try location.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(package, forKey: .package)
        try container.encode(advertisement, forKey: .advertisement)
        try container.encode(answeredBy, forKey: .answeredBy)
        try container.encode(fellBackToDefaultManagementPoint, forKey: .fellBackToDefaultManagementPoint)
        try container.encode(decision, forKey: .decision)
        try container.encode(distributionPoints, forKey: .distributionPoints)
        if !unansweredManagementPoints.isEmpty {
            try container.encode(unansweredManagementPoints, forKey: .unansweredManagementPoints)
        }
    }
}

public struct LocatorError: KindedError {
    public let description: String
    public let kind: FailureKind
    public init(_ description: String, kind: FailureKind = .badInput) {
        self.description = description
        self.kind = kind
    }
}

/// Collects trace lines from concurrent code.
final class TraceLog: Sendable {
    private let storage = LockedLines()
    func add(_ line: String) { storage.append(line) }
    var lines: [String] { storage.all }
}

final class LockedLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
