public import SiteModel

/// A content location request, as a client sends it to a management point.
public struct ContentRequest: Sendable, Hashable {
    public var package: String
    public var address: ClientAddress
    public var adSite: String?
    /// The client's own mode: its assigned site's.
    public var clientMode: SiteMode
    public var allowHTTPRoaming: Bool
    /// From the advertisement: may a protected client fall back to unprotected distribution points.
    public var allowFallbackToUnprotected: Bool

    public init(
        package: String,
        address: ClientAddress,
        adSite: String? = nil,
        clientMode: SiteMode,
        allowHTTPRoaming: Bool = false,
        allowFallbackToUnprotected: Bool = false
    ) {
        self.package = package
        self.address = address
        self.adSite = adSite
        self.clientMode = clientMode
        self.allowHTTPRoaming = allowHTTPRoaming
        self.allowFallbackToUnprotected = allowFallbackToUnprotected
    }
}

public enum Locality: String, Sendable, Codable { case local, remote }

/// A distribution point in a management point's answer.
public struct DistributionPointOffer: Sendable, Hashable, Codable {
    public var host: String
    public var site: String
    public var locality: Locality
    public var protected: Bool
    /// The version the management point's site knows this distribution point to hold (a management point service
    /// says; the offline planner does not know).
    public var version: String?
    /// Where the content is on this distribution point (a management point service says).
    public var url: String?

    public init(
        host: String,
        site: String,
        locality: Locality,
        protected: Bool,
        version: String? = nil,
        url: String? = nil
    ) {
        self.host = host
        self.site = site
        self.locality = locality
        self.protected = protected
        self.version = version
        self.url = url
    }
}

/// A management point's answer, with the reasoning behind it.
public struct ContentAnswer: Sendable, Hashable {
    public var distributionPoints: [DistributionPointOffer]
    public var trace: [String]

    public init(distributionPoints: [DistributionPointOffer], trace: [String]) {
        self.distributionPoints = distributionPoints
        self.trace = trace
    }
}

/// What clients ask of a management point. A network service can implement it later; here it answers from the
/// hierarchy, as a site's database would.
public protocol ManagementPoint: Sendable {
    var host: String { get }
    var site: SiteCode { get }
    func locateContent(_ request: ContentRequest) async throws -> ContentAnswer
}

/// The mode rule (docs/roaming-and-content.md, "Mixed and native mode"): a client uses systems of a site of another
/// mode only when it is native-mode, the site is mixed-mode and it allows HTTP for roaming.
public func modeAllows(client: SiteMode, site: SiteMode, allowHTTPRoaming: Bool) -> Bool {
    client == site || (client == .native && site == .mixed && allowHTTPRoaming)
}

/// A management point of site X answering from what X's site database knows: X and the sites below it, their
/// boundaries and distribution points, and which of those hold each package (docs/roaming-and-content.md, step 3).
public struct SiteDatabaseManagementPoint: ManagementPoint {
    public let host: String
    public let site: SiteCode
    private let hierarchy: Hierarchy
    /// The distribution point hosts that hold a package.
    private let holders: @Sendable (String) -> Set<String>

    /// X and every site below it, in the file's order.
    let knownSites: [Site]
    /// Their boundaries, indexed: built once, as a site's database would hold them.
    private let boundaries: BoundaryIndex
    /// The first line of every trace.
    private let knowsLine: String

    /// `holders` defaults to the file's `distributionPoints` of each package.
    public init(site: SiteCode, host: String, hierarchy: Hierarchy, holders: (@Sendable (String) -> Set<String>)? = nil)
    {
        self.site = site
        self.host = host
        self.hierarchy = hierarchy
        self.holders =
            holders ?? { id in
                Set(hierarchy.package(ASCII.uppercased(id))?.distributionPoints ?? [])
            }
        var known: [SiteCode] = [site]
        var index = 0
        while index < known.count {
            known += hierarchy.children(of: known[index]).map(\.code)
            index += 1
        }
        let members = Set(known)
        knownSites = hierarchy.sites.filter { members.contains($0.code) }
        boundaries = BoundaryIndex(knownSites)
        let named = knownSites.prefix(20).map(\.code.rawValue).joined(separator: ", ")
        knowsLine =
            "\(host) (site \(site)) knows sites \(named)"
            + (knownSites.count > 20 ? " and \(knownSites.count - 20) more" : "")
    }

    public func locateContent(_ request: ContentRequest) async throws -> ContentAnswer {
        locateContent(request, holding: holders(request.package))
    }

    /// The boundary the client is in, as this management point sees it: with the package, the client's mode and
    /// the advertisement's flags, all of the request an answer depends on.
    public func boundary(of request: ContentRequest) -> BoundarySelection? {
        BoundaryMatching.select(boundaries.candidates(for: request.address, adSite: request.adSite))
    }

    /// The answer when the distribution point hosts in `holding` hold the package.
    public func locateContent(_ request: ContentRequest, holding: Set<String>) -> ContentAnswer {
        locateContent(request, in: boundary(of: request), holding: holding)
    }

    /// The answer for a client in `selection` (from ``boundary(of:)``).
    public func locateContent(
        _ request: ContentRequest,
        in selection: BoundarySelection?,
        holding: Set<String>
    ) -> ContentAnswer {
        var trace: [String] = [knowsLine]
        func usable(_ dpSite: Site) -> Bool {
            modeAllows(
                client: request.clientMode,
                site: hierarchy.mode(of: dpSite),
                allowHTTPRoaming: request.allowHTTPRoaming
            )
        }
        func distributionPoints(of site: Site) -> [SiteSystem] {
            site.systems.filter { $0.roles.contains(.distributionPoint) && holding.contains($0.host) }
        }

        guard let selection, let clientSite = hierarchy.site(selection.boundary.site) else {
            trace.append(
                "the client is in none of those sites' boundaries: only \(site)'s unprotected distribution points"
            )
            return ContentAnswer(
                distributionPoints: unprotectedOfOwnSite(distributionPoints, usable, &trace),
                trace: trace
            )
        }
        let boundary = selection.boundary
        let boundaryKey = boundary.fileKey
        trace.append(
            "the client's boundary is \(boundary.kind.rawValue) \(boundary.value) of site \(clientSite.code) (\(boundary.connection.rawValue))"
        )
        func protects(_ system: SiteSystem) -> Bool {
            system.protectedBoundaries.contains { $0.comparisonKey == boundaryKey }
        }

        // The walk from the client's site up to this one.
        var path: [Site] = []
        var current: Site? = clientSite
        while let step = current {
            path.append(step)
            if step.code == site { break }
            current = step.parent.flatMap(hierarchy.site)
        }

        var protectedClient = false
        if clientSite.systems.contains(where: protects) {
            protectedClient = true
            let protectedPoints = distributionPoints(of: clientSite).filter(protects)
            if usable(clientSite) && !protectedPoints.isEmpty {
                let locality: Locality = boundary.connection == .fast ? .local : .remote
                trace.append(
                    "the boundary is protected: \(protectedPoints.map(\.host).joined(separator: ", ")) serve it"
                )
                return ContentAnswer(
                    distributionPoints: protectedPoints.map {
                        DistributionPointOffer(
                            host: $0.host,
                            site: clientSite.code.rawValue,
                            locality: locality,
                            protected: true
                        )
                    },
                    trace: trace
                )
            }
            guard request.allowFallbackToUnprotected else {
                trace.append(
                    "the boundary is protected and no protected distribution point holds \(request.package); no fallback allowed"
                )
                return ContentAnswer(distributionPoints: [], trace: trace)
            }
            trace.append("no protected distribution point holds \(request.package); falling back to unprotected ones")
        }

        for step in path {
            guard usable(step) else {
                trace.append(
                    "site \(step.code) is \(hierarchy.mode(of: step).rawValue) mode: its systems are not for this client"
                )
                continue
            }
            let points = distributionPoints(of: step).filter {
                $0.protectedBoundaries.isEmpty || (!protectedClient && protects($0))
            }
            if points.isEmpty {
                trace.append("site \(step.code) has no usable distribution point holding \(request.package)")
                continue
            }
            let locality: Locality = step.code == clientSite.code && boundary.connection == .fast ? .local : .remote
            trace.append("site \(step.code): \(points.map(\.host).joined(separator: ", ")) (\(locality.rawValue))")
            return ContentAnswer(
                distributionPoints: points.map {
                    DistributionPointOffer(
                        host: $0.host,
                        site: step.code.rawValue,
                        locality: locality,
                        protected: !$0.protectedBoundaries.isEmpty
                    )
                },
                trace: trace
            )
        }
        trace.append(
            "no site from \(clientSite.code) up to \(site) has \(request.package) on a usable distribution point"
        )
        return ContentAnswer(distributionPoints: [], trace: trace)
    }

    private func unprotectedOfOwnSite(
        _ distributionPoints: (Site) -> [SiteSystem],
        _ usable: (Site) -> Bool,
        _ trace: inout [String]
    ) -> [DistributionPointOffer] {
        guard let own = hierarchy.site(site), usable(own) else { return [] }
        let points = distributionPoints(own).filter(\.protectedBoundaries.isEmpty)
        trace.append(
            points.isEmpty ? "none holds the package" : "\(points.map(\.host).joined(separator: ", ")) (remote)"
        )
        return points.map {
            DistributionPointOffer(host: $0.host, site: site.rawValue, locality: .remote, protected: false)
        }
    }
}
