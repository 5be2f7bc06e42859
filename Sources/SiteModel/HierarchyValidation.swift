/// The rules of docs/hierarchy-file.md that look at the hierarchy as a whole (the reader checks each value's form).
public enum HierarchyValidation {
    public static func problems(in hierarchy: Hierarchy) -> [HierarchyProblem] {
        var problems: [HierarchyProblem] = []
        func error(_ location: SourceLocation, _ message: String) { problems.append(.error(location, message)) }
        func warning(_ location: SourceLocation, _ message: String) { problems.append(.warning(location, message)) }

        // Forests and trusts.
        var forestNames = Set<ForestName>()
        for forest in hierarchy.forests where !forestNames.insert(forest.name).inserted {
            error(forest.location, "forest \(forest.name) is declared twice; expected each forest once")
        }
        var trustPairs = Set<[ForestName]>()
        for trust in hierarchy.trusts {
            for forest in trust.forests where !forestNames.contains(forest) {
                error(
                    trust.location,
                    "trust names forest \(forest), which is not declared; expected one of \(list(forestNames))"
                )
            }
            if trust.forests[0] == trust.forests[1] {
                error(trust.location, "trust names \(trust.forests[0]) twice; expected two different forests")
            }
            if !trustPairs.insert(trust.forests.sorted()).inserted {
                error(trust.location, "a trust between \(trust.forests[0]) and \(trust.forests[1]) is declared twice")
            }
        }
        // AD sites and subnets, per forest.
        for forest in hierarchy.forests {
            var siteNames = Set<String>()
            var subnetOwners: [String: String] = [:]
            for adSite in forest.adSites {
                if !ADSite.isValidName(adSite.name) {
                    error(
                        adSite.location,
                        "AD site name '\(adSite.name)' is not valid; expected 1-63 letters, digits and hyphens, not"
                            + " starting or ending with a hyphen"
                    )
                }
                if !siteNames.insert(adSite.name.lowercased()).inserted {
                    error(
                        adSite.location,
                        "AD site \(adSite.name) is declared twice in forest \(forest.name) (names are compared without"
                            + " regard to case); expected each site once"
                    )
                }
                for subnet in adSite.subnets {
                    if let owner = subnetOwners[subnet.description] {
                        error(
                            adSite.location,
                            "subnet \(subnet) of AD site \(adSite.name) is already a subnet of AD site \(owner) in forest"
                                + " \(forest.name); expected each subnet once per forest"
                        )
                    } else {
                        subnetOwners[subnet.description] = adSite.name
                    }
                }
            }
        }

        // Sites.
        // A code used twice: the hierarchy's lookups give the first site with it, as every rule below sees it.
        var codes = Set<SiteCode>()
        for site in hierarchy.sites where !codes.insert(site.code).inserted {
            error(site.location, "site code \(site.code) is used twice; expected unique site codes")
        }
        let modes = Self.modes(of: hierarchy)
        let roots = hierarchy.sites.filter { $0.parent == nil }
        if roots.isEmpty && !hierarchy.sites.isEmpty {
            error(
                hierarchy.sites[0].location,
                "no site is without a parent; expected exactly one central site (parent: null)"
            )
        }
        for extra in roots.dropFirst() {
            error(
                extra.location,
                "site \(extra.code) has no parent, but \(roots[0].code) is already the central site; expected exactly one site without a parent"
            )
        }
        for root in roots where root.type != .primary {
            error(
                root.location,
                "the central site \(root.code) is \(root.type.rawValue); expected the site without a parent to be primary"
            )
        }
        for site in hierarchy.sites {
            if !forestNames.contains(site.forest) {
                error(
                    site.location,
                    "site \(site.code) names forest \(site.forest), which is not declared; expected one of \(list(forestNames))"
                )
            }
            if let parentCode = site.parent {
                guard let parent = hierarchy.site(parentCode) else {
                    error(
                        site.location,
                        "site \(site.code) names parent \(parentCode), which is not a site of the file"
                    )
                    continue
                }
                if parentCode == site.code { error(site.location, "site \(site.code) is its own parent") }
                if site.type == .secondary && parent.type != .primary {
                    error(
                        site.location,
                        "secondary site \(site.code) has secondary parent \(parentCode); expected a primary parent"
                    )
                }
                if parent.type == .secondary {
                    error(
                        site.location,
                        "site \(site.code) is the child of secondary site \(parentCode); secondary sites have no children"
                    )
                }
                let parentMode = modes[parentCode] ?? .mixed
                if site.type == .secondary, let mode = site.mode, mode != parentMode {
                    error(
                        site.location,
                        "secondary site \(site.code) is \(mode.rawValue) but its parent \(parentCode) is \(parentMode.rawValue); a secondary site has its parent's mode (omit mode)"
                    )
                } else if (modes[site.code] ?? .mixed) == .native && parentMode == .mixed {
                    error(
                        site.location,
                        "native-mode site \(site.code) is the child of mixed-mode site \(parentCode); expected a mixed-mode child or a native-mode parent"
                    )
                }
            }
        }
        // Cycles: one walk up from each site, never through a site an earlier walk has finished, so every site is
        // looked at a bounded number of times whatever the shape.
        var finished = Set<SiteCode>()
        for site in hierarchy.sites where !finished.contains(site.code) {
            var path: [SiteCode] = []
            var onPath = Set<SiteCode>()
            var current: SiteCode? = site.code
            while let code = current, !finished.contains(code), hierarchy.site(code) != nil {
                if onPath.contains(code) {
                    let cycle = path.drop { $0 != code }.map(\.rawValue) + [code.rawValue]
                    error(
                        hierarchy.site(code)?.location ?? site.location,
                        "site \(code) is in a parent cycle: \(cycle.joined(separator: " → "))"
                    )
                    break
                }
                path.append(code)
                onPath.insert(code)
                current = hierarchy.site(code)?.parent
            }
            finished.formUnion(path)
        }

        // A site server's first label is its computer account name in its forest's directory: unique per forest.
        var serverNames: [ForestName: [Substring: SiteCode]] = [:]
        for site in hierarchy.sites {
            let name = DNSName.firstLabel(site.server)
            if let other = serverNames[site.forest]?[name], other != site.code {
                error(
                    site.location,
                    "site servers of \(other) and \(site.code) both start with '\(name)' in forest \(site.forest): that is"
                        + " their computer name in the directory; expected a different first label for each site server"
                )
            } else {
                serverNames[site.forest, default: [:]][name] = site.code
            }
        }

        let distributionPointHosts = Set(
            hierarchy.sites.flatMap { $0.systems.filter { $0.roles.contains(.distributionPoint) }.map(\.host) }
        )
        var boundaryOwners: [String: [(site: SiteCode, boundary: Boundary)]] = [:]
        for site in hierarchy.sites {
            // Boundaries.
            var seenBoundaries = Set<String>()
            for boundary in site.boundaries {
                if case .adSite(let name) = boundary.value, let forest = hierarchy.forest(site.forest),
                    !forest.adSites.isEmpty, forest.adSite(named: name) == nil
                {
                    error(
                        boundary.location,
                        "boundary adSite: \(name) of site \(site.code) names no AD site of forest \(forest.name);"
                            + " expected one of \(forest.adSites.map(\.name).joined(separator: ", "))"
                    )
                }
                if !seenBoundaries.insert(boundary.value.comparisonKey).inserted {
                    error(boundary.location, "boundary \(boundary.value) appears twice in site \(site.code)")
                } else {
                    boundaryOwners[boundary.value.comparisonKey, default: []].append((site.code, boundary))
                }
            }
            // Systems.
            var hosts = Set<String>()
            for system in site.systems {
                if !hosts.insert(system.host).inserted {
                    error(
                        system.location,
                        "host \(system.host) appears twice in site \(site.code); expected each host once per site"
                    )
                }
                if let forest = system.forest, !forestNames.contains(forest) {
                    error(system.location, "system \(system.host) names forest \(forest), which is not declared")
                }
                if system.roles.isEmpty {
                    error(
                        system.location,
                        "system \(system.host) has no roles; expected at least one of \(SiteRole.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                if !system.protectedBoundaries.isEmpty && !system.roles.contains(.distributionPoint) {
                    error(
                        system.location,
                        "system \(system.host) has protectedBoundaries but is not a distributionPoint; only distribution points are protected"
                    )
                }
                for value in system.protectedBoundaries where !seenBoundaries.contains(value.comparisonKey) {
                    error(
                        system.location,
                        "protected boundary \(value) of \(system.host) is not a boundary of site \(site.code); expected one of \(site.boundaries.map { "\($0.value)" }.joined(separator: ", "))"
                    )
                }
            }
            if let named = site.defaultManagementPoint?.lowercased(),
                !site.managementPoints.contains(where: { $0.host == named })
            {
                error(
                    site.location,
                    "defaultManagementPoint \(named) is not a managementPoint system of site \(site.code)"
                )
            }
            if site.managementPoints.isEmpty {
                warning(
                    site.location,
                    "site \(site.code) has no management point; clients roaming into it use their default management point"
                )
            }
            // Addresses.
            let neighbours = Set([site.parent].compactMap { $0 } + hierarchy.children(of: site.code).map(\.code))
            var priorities = Set<String>()
            for address in site.addresses {
                if !neighbours.contains(address.to) {
                    error(
                        address.location,
                        "site \(site.code) has an address to \(address.to), which is neither its parent nor a child; sites address only their neighbours (\(neighbours.isEmpty ? "none" : neighbours.map(\.rawValue).sorted().joined(separator: ", ")))"
                    )
                }
                if !priorities.insert("\(address.to)/\(address.priority)").inserted {
                    error(
                        address.location,
                        "site \(site.code) has two addresses to \(address.to) with priority \(address.priority); expected unique priorities per destination"
                    )
                }
                // Each hour of the week belongs to at most one entry: one pass over the entries' hours.
                var hourTaken = [Bool](repeating: false, count: 7 * 24)
                for entry in address.schedule {
                    let hours = entry.hoursOfWeek
                    if hours.contains(where: { hourTaken[$0] }) {
                        error(
                            entry.location,
                            "schedule entries of the address from \(site.code) to \(address.to) overlap; expected entries that cover different hours"
                        )
                    }
                    for hour in hours { hourTaken[hour] = true }
                }
                if address.sender == .courier
                    && !site.addresses.contains(where: { $0.to == address.to && $0.sender == .standard })
                {
                    error(
                        address.location,
                        "the courier address from \(site.code) to \(address.to) needs a standard address to the same site"
                    )
                }
            }
            for neighbour in neighbours.sorted() where !site.addresses.contains(where: { $0.to == neighbour }) {
                let relation = neighbour == site.parent ? "its parent" : "its child"
                warning(
                    site.location,
                    "site \(site.code) has no address to \(relation) \(neighbour); that link cannot carry anything"
                )
            }
        }
        for (_, owners) in boundaryOwners where owners.count > 1 {
            let boundary = owners[1].boundary
            warning(
                boundary.location,
                "boundary \(boundary.value) belongs to sites \(owners.map(\.site.rawValue).joined(separator: " and ")); site identification there is ambiguous"
            )
        }

        // Packages and advertisements.
        var packageIDs = Set<String>()
        for package in hierarchy.packages {
            if !isObjectID(package.id, siteCode: package.sourceSite.rawValue) {
                error(
                    package.location,
                    "package id \(package.id) is not its source site code followed by 5 hex digits (e.g. \(package.sourceSite)00001)"
                )
            }
            if !packageIDs.insert(package.id).inserted {
                error(package.location, "package id \(package.id) is used twice")
            }
            if hierarchy.site(package.sourceSite) == nil {
                error(
                    package.location,
                    "package \(package.id) names source site \(package.sourceSite), which is not a site of the file"
                )
            }
            for host in package.distributionPoints where !distributionPointHosts.contains(host) {
                error(
                    package.location,
                    "package \(package.id) lists \(host), which is not a distributionPoint system of any site"
                )
            }
        }
        var advertisementIDs = Set<String>()
        for advertisement in hierarchy.advertisements {
            let prefix = String(advertisement.id.prefix(3))
            if !isObjectID(advertisement.id, siteCode: prefix)
                || (try? SiteCode(exactly: prefix)).flatMap(hierarchy.site) == nil
            {
                error(
                    advertisement.location,
                    "advertisement id \(advertisement.id) is not a site code of the file followed by 5 hex digits"
                )
            }
            if !advertisementIDs.insert(advertisement.id).inserted {
                error(advertisement.location, "advertisement id \(advertisement.id) is used twice")
            }
            if !packageIDs.contains(advertisement.package) {
                error(
                    advertisement.location,
                    "advertisement \(advertisement.id) names package \(advertisement.package), which is not a package of the file"
                )
            }
        }
        return problems
    }

    /// Each site's mode (its own; a secondary's is its parent's), every site resolved once.
    /// `Hierarchy.mode(of:)` for every site at once, each resolved once: a crafted chain of secondaries (invalid, but
    /// still checked) would make asking site by site quadratic.
    private static func modes(of hierarchy: Hierarchy) -> [SiteCode: SiteMode] {
        let sites = hierarchy.sites
        var modes: [SiteCode: SiteMode] = [:]
        for site in sites where modes[site.code] == nil {
            var chain: [Site] = []
            var current: Site? = site
            var resolved: SiteMode = .mixed
            while let at = current, chain.count <= sites.count {
                if let known = modes[at.code] {
                    resolved = known
                    break
                }
                chain.append(at)
                if let mode = at.mode {
                    resolved = mode
                    break
                }
                guard at.type == .secondary, let parent = at.parent else { break }
                current = hierarchy.site(parent)
            }
            for member in chain where modes[member.code] == nil { modes[member.code] = resolved }
        }
        return modes
    }

    /// An object id (``ObjectIDRule``, upper case as the reader stores ids) made by `siteCode`.
    static func isObjectID(_ id: String, siteCode: String) -> Bool {
        ObjectIDRule.isValid(exactly: id) && id.hasPrefix(siteCode)
    }

    private static func list(_ names: Set<ForestName>) -> String {
        names.isEmpty ? "none declared" : names.map(\.rawValue).sorted().joined(separator: ", ")
    }
}
