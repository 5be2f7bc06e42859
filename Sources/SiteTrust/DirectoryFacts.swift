public import SiteModel

extension ForestFacts {
    /// The facts as the forests' directories hold them (`--from-directory`). A forest with no site server of its
    /// own in the file keeps the file's `serverOS`: there is no computer entry to read.
    public init(records: [ForestRecord], hierarchy: Hierarchy) {
        var levels: [ForestName: FunctionalLevel?] = [:]
        var systems: [ForestName: ServerOS?] = [:]
        for record in records {
            levels[record.forest] = record.behaviorVersion.flatMap(Self.functionalLevel)
            let servers = hierarchy.sites.filter { $0.forest == record.forest }.map { $0.server.lowercased() }
            if servers.isEmpty {
                systems[record.forest] = hierarchy.forest(record.forest)?.serverOS
                continue
            }
            let known = servers.map { record.siteServerSystems[$0].flatMap(Self.serverOS) }
            systems[record.forest] = known.contains(nil) ? ServerOS?.none : known.compactMap { $0 }.min()
        }
        var trusts: [Trust] = []
        for (index, first) in records.enumerated() {
            for second in records[(index + 1)...] {
                let sides =
                    first.trustedDomains.filter { $0.partner == second.forest.rawValue }
                    + second.trustedDomains.filter { $0.partner == first.forest.rawValue }
                guard !sides.isEmpty else { continue }
                // Each side that exists must say forest-transitive; two-way when either side says both directions.
                let transitive = sides.allSatisfy { $0.attributes & 0x8 != 0 && $0.attributes & 0x1 == 0 }
                trusts.append(
                    Trust(
                        forests: [first.forest, second.forest],
                        kind: sides.allSatisfy { $0.attributes & 0x8 != 0 } ? .forest : .external,
                        transitive: transitive,
                        direction: sides.contains { $0.direction == 3 } ? .twoWay : .oneWay
                    )
                )
            }
        }
        self.init(functionalLevels: levels, serverOS: systems, trusts: trusts)
    }

    /// `msDS-Behavior-Version` as a level; versions beyond Windows Server 2008 R2 count as that (the rule is
    /// "or higher").
    static func functionalLevel(_ version: Int) -> FunctionalLevel? {
        guard version >= 0 else { return nil }
        return FunctionalLevel.allCases.first { $0.behaviorVersion == version } ?? .windows2008r2
    }

    /// A computer entry's `operatingSystem` as a server family; later Windows Server versions count as 2008 R2.
    static func serverOS(_ text: String) -> ServerOS? {
        if let exact = ServerOS.allCases.first(where: { $0.operatingSystem.lowercased() == text.lowercased() }) {
            return exact
        }
        let lower = text.lowercased()
        guard lower.contains("windows") else { return nil }
        if lower.contains("2008 r2") { return .windows2008r2 }
        if lower.contains("2008") { return .windows2008 }
        if lower.contains("2003") { return .windows2003 }
        if lower.contains("2000") { return .windows2000 }
        if ["2012", "2016", "2019", "2022", "2025"].contains(where: lower.contains) { return .windows2008r2 }
        return nil
    }
}
