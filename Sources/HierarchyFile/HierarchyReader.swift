import Foundation
public import SiteModel
import Yams

/// Reads a hierarchy file (format version 1) into the model and checks it, reporting every problem at once.
public enum HierarchyReader {
    /// The result of reading: the hierarchy as far as it could be read, and every problem found, in file order.
    public struct Result: Sendable {
        public var hierarchy: Hierarchy
        public var problems: [HierarchyProblem]

        public var errors: [HierarchyProblem] { problems.filter { $0.severity == .error } }
        public var warnings: [HierarchyProblem] { problems.filter { $0.severity == .warning } }
    }

    /// Reads and validates YAML text.
    public static func read(_ text: String) -> Result {
        var reader = NodeReader()
        if let problem = YAMLLimits.keyProblem(in: text) {
            return Result(hierarchy: Hierarchy(), problems: [problem])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            return Result(hierarchy: Hierarchy(), problems: [syntaxProblem(error)])
        } catch {
            return Result(hierarchy: Hierarchy(), problems: [.error(.unknown, "the file is not YAML: \(error)")])
        }
        guard let root else {
            return Result(
                hierarchy: Hierarchy(),
                problems: [
                    .error(
                        SourceLocation(line: 1, column: 1),
                        "the file is empty; expected a hierarchy with version, forests and sites"
                    )
                ]
            )
        }
        if let problem = YAMLLimits.expansionProblem(in: root) {
            return Result(hierarchy: Hierarchy(), problems: [problem])
        }
        var hierarchy = Hierarchy()
        if let entries = reader.mapping(
            root,
            "the hierarchy",
            keys: ["version", "forests", "trusts", "sites", "packages", "advertisements"],
            required: ["version", "forests", "sites"]
        ) {
            if let version = reader.int(entries["version"], "version"), version != 1 {
                reader.error(entries["version"], "version \(version) is not supported; expected version: 1")
            }
            hierarchy.forests = reader.sequence(entries["forests"], "forests").compactMap { readForest($0, &reader) }
            hierarchy.trusts = reader.sequence(entries["trusts"], "trusts").compactMap { readTrust($0, &reader) }
            hierarchy.sites = reader.sequence(entries["sites"], "sites").compactMap { readSite($0, &reader) }
            hierarchy.packages = reader.sequence(entries["packages"], "packages").compactMap {
                readPackage($0, &reader)
            }
            hierarchy.advertisements = reader.sequence(entries["advertisements"], "advertisements").compactMap {
                readAdvertisement($0, &reader)
            }
        }
        let problems = reader.problems + HierarchyValidation.problems(in: hierarchy)
        return Result(hierarchy: hierarchy, problems: sorted(problems))
    }

    /// Reads and validates a file; a file that cannot be read is one problem.
    public static func read(file: String) -> Result {
        guard let data = FileManager.default.contents(atPath: file) else {
            return Result(hierarchy: Hierarchy(), problems: [.error(.unknown, "cannot read \(file)")])
        }
        return read(String(decoding: data, as: UTF8.self))
    }

    /// Errors first, each group in file order.
    static func sorted(_ problems: [HierarchyProblem]) -> [HierarchyProblem] {
        problems.sorted {
            ($0.severity == .error ? 0 : 1, $0.location.line, $0.location.column)
                < ($1.severity == .error ? 0 : 1, $1.location.line, $1.location.column)
        }
    }

    private static func syntaxProblem(_ error: YamlError) -> HierarchyProblem {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let location = SourceLocation(line: mark.line, column: mark.column)
            return .error(location, "YAML syntax: \(problem)\(context.map { " \($0.text)" } ?? "")")
        default:
            return .error(.unknown, "YAML syntax: \(error)")
        }
    }

    // MARK: Elements

    private static func readForest(_ node: Node, _ reader: inout NodeReader) -> Forest? {
        guard
            let entries = reader.mapping(
                node,
                "a forest",
                keys: ["name", "functionalLevel", "serverOS", "directory", "adSites"],
                required: ["name", "functionalLevel", "serverOS"]
            )
        else { return nil }
        let name = reader.forestName(entries["name"], "forest name")
        let level = reader.choice(entries["functionalLevel"], "functionalLevel", FunctionalLevel.self)
        let os = reader.choice(entries["serverOS"], "serverOS", ServerOS.self)
        let directory = reader.sequence(entries["directory"], "directory").compactMap { node -> String? in
            guard let uri = reader.string(node, "a directory URI") else { return nil }
            if !(uri.hasPrefix("ldap://") || uri.hasPrefix("ldaps://") || uri.hasPrefix("ldapi://")) {
                reader.error(
                    node,
                    "directory URI '\(uri)' is not an LDAP URI; expected ldap://HOST[:PORT], ldaps://… or ldapi://…"
                )
            }
            return uri
        }
        let adSites = reader.sequence(entries["adSites"], "adSites").compactMap { readADSite($0, &reader) }
        guard let name, let level, let os else { return nil }
        return Forest(
            name: name,
            functionalLevel: level,
            serverOS: os,
            directory: directory,
            adSites: adSites,
            location: NodeReader.location(node)
        )
    }

    private static func readADSite(_ node: Node, _ reader: inout NodeReader) -> ADSite? {
        guard
            let entries = reader.mapping(node, "an AD site", keys: ["name", "subnets"], required: ["name"])
        else { return nil }
        let name = reader.string(entries["name"], "AD site name")
        let subnets = reader.sequence(entries["subnets"], "subnets").compactMap { node -> ADSubnet? in
            guard let text = reader.string(node, "a subnet") else { return nil }
            guard let subnet = ADSubnet(text) else {
                reader.error(
                    node,
                    "subnet '\(text)' is not a valid subnet; expected CIDR with the host bits zero, e.g. 10.20.0.0/16"
                        + " or 2001:db8:10::/64"
                )
                return nil
            }
            return subnet
        }
        guard let name else { return nil }
        return ADSite(name: name, subnets: subnets, location: NodeReader.location(entries["name"]))
    }

    private static func readTrust(_ node: Node, _ reader: inout NodeReader) -> Trust? {
        guard
            let entries = reader.mapping(
                node,
                "a trust",
                keys: ["forests", "type", "transitive", "direction"],
                required: ["forests", "type"]
            )
        else { return nil }
        let forests = reader.sequence(entries["forests"], "trust forests").compactMap {
            reader.forestName($0, "a trust's forest")
        }
        if entries["forests"] != nil && reader.sequence(entries["forests"], "trust forests").count != 2 {
            reader.error(entries["forests"], "a trust names \(forests.count) forests; expected exactly two")
        }
        let kind = reader.choice(entries["type"], "trust type", Trust.Kind.self)
        let transitive = reader.bool(entries["transitive"], "transitive")
        let direction = reader.choice(entries["direction"], "direction", Trust.Direction.self) ?? .twoWay
        guard let kind, forests.count == 2 else { return nil }
        if kind == .external && transitive == true {
            reader.error(
                entries["transitive"],
                "an external trust is not transitive; expected transitive: false or no transitive key"
            )
        }
        return Trust(
            forests: forests,
            kind: kind,
            transitive: transitive ?? (kind == .forest),
            direction: direction,
            location: NodeReader.location(node)
        )
    }

    private static func readSite(_ node: Node, _ reader: inout NodeReader) -> Site? {
        guard
            let entries = reader.mapping(
                node,
                "a site",
                keys: [
                    "code", "name", "type", "parent", "forest", "mode", "server", "publish", "defaultManagementPoint",
                    "boundaries", "systems", "addresses", "senderSettings",
                ],
                required: ["code", "type", "forest", "server"]
            )
        else { return nil }
        let code =
            reader.siteCode(entries["code"], "site code")
            ?? reader.string(entries["code"], "site code").map { SiteCode(unreadable: $0) }
        let type = reader.choice(entries["type"], "site type", SiteType.self)
        let parent = reader.siteCode(entries["parent"], "parent")
        let forest = reader.forestName(entries["forest"], "site forest")
        let mode = reader.choice(entries["mode"], "mode", SiteMode.self)
        // A code or server that is not of its form has been reported; the site is kept with the text as written,
        // so that the rest of it is still checked.
        let server = reader.hostName(entries["server"], "server") ?? reader.string(entries["server"], "server")
        let boundaries = reader.sequence(entries["boundaries"], "boundaries").compactMap { readBoundary($0, &reader) }
        let systems = reader.sequence(entries["systems"], "systems").compactMap { readSystem($0, &reader) }
        let addresses = reader.sequence(entries["addresses"], "addresses").compactMap { readAddress($0, &reader) }
        var senderSettings = SenderSettings()
        if let settings = reader.mapping(
            entries["senderSettings"],
            "senderSettings",
            keys: ["maxConcurrentAllSites", "maxConcurrentPerSite", "retries", "retryDelayMinutes"]
        ) {
            let range = 1...999
            senderSettings.maxConcurrentAllSites =
                reader.int(settings["maxConcurrentAllSites"], "maxConcurrentAllSites", range: range) ?? 5
            senderSettings.maxConcurrentPerSite =
                reader.int(settings["maxConcurrentPerSite"], "maxConcurrentPerSite", range: range) ?? 3
            senderSettings.retries = reader.int(settings["retries"], "retries", range: 0...99) ?? 2
            senderSettings.retryDelayMinutes =
                reader.int(settings["retryDelayMinutes"], "retryDelayMinutes", range: 1...999) ?? 1
            if senderSettings.maxConcurrentAllSites <= senderSettings.maxConcurrentPerSite {
                reader.error(
                    entries["senderSettings"],
                    "maxConcurrentAllSites (\(senderSettings.maxConcurrentAllSites)) must exceed maxConcurrentPerSite (\(senderSettings.maxConcurrentPerSite))"
                )
            }
        }
        guard let code, let type, let forest, let server else { return nil }
        return Site(
            code: code,
            name: reader.string(entries["name"], "site name"),
            type: type,
            parent: parent,
            forest: forest,
            mode: mode,
            server: server,
            publish: reader.bool(entries["publish"], "publish") ?? true,
            defaultManagementPoint: reader.hostName(entries["defaultManagementPoint"], "defaultManagementPoint"),
            boundaries: boundaries,
            systems: systems,
            addresses: addresses,
            senderSettings: senderSettings,
            location: NodeReader.location(node)
        )
    }

    private static func readBoundary(_ node: Node, _ reader: inout NodeReader) -> Boundary? {
        guard
            let entries = reader.mapping(
                node,
                "a boundary",
                keys: ["subnet", "range", "adSite", "ipv6Prefix", "connection"]
            )
        else { return nil }
        let kinds = ["subnet", "range", "adSite", "ipv6Prefix"].filter { entries[$0] != nil }
        guard kinds.count == 1, let kind = kinds.first else {
            reader.error(
                node,
                "a boundary names \(kinds.isEmpty ? "no" : "several") kinds; expected exactly one of subnet, range, adSite, ipv6Prefix"
            )
            return nil
        }
        let connection = reader.choice(entries["connection"], "connection", ConnectionSpeed.self) ?? .fast
        guard let value = parseBoundaryValue(kind, entries[kind], &reader) else { return nil }
        return Boundary(value, connection: connection, location: NodeReader.location(entries[kind]))
    }

    static func parseBoundaryValue(_ kind: String, _ node: Node?, _ reader: inout NodeReader) -> BoundaryValue? {
        guard let text = reader.string(node, kind) else { return nil }
        switch kind {
        case "subnet":
            guard let network = IPv4Network(text) else {
                reader.error(
                    node,
                    "subnet '\(text)' is not a valid IPv4 subnet; expected a.b.c.d/len with the host bits zero, e.g. 10.10.0.0/16"
                )
                return nil
            }
            return .subnet(network)
        case "range":
            guard let (low, high) = IPv4Range.parse(text) else {
                reader.error(
                    node,
                    "range '\(text)' is not an IPv4 range; expected low-high, e.g. 10.20.0.1-10.20.3.254"
                )
                return nil
            }
            guard let range = IPv4Range(low: low, high: high) else {
                reader.error(node, "range '\(text)' runs backwards; expected low <= high")
                return nil
            }
            return .range(range)
        case "ipv6Prefix":
            guard let network = IPv6Network(text) else {
                reader.error(
                    node,
                    "IPv6 prefix '\(text)' is not valid; expected prefix/len with the host bits zero, e.g. 2001:db8:10::/64"
                )
                return nil
            }
            return .ipv6Prefix(network)
        default:
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                reader.error(node, "adSite is empty; expected a directory site name")
                return nil
            }
            return .adSite(text)
        }
    }

    /// A boundary written as its value alone, as `protectedBoundaries` do.
    static func parseBoundaryText(_ text: String) -> BoundaryValue? {
        if let network = IPv4Network(text) { return .subnet(network) }
        if let (low, high) = IPv4Range.parse(text), let range = IPv4Range(low: low, high: high) { return .range(range) }
        if let network = IPv6Network(text) { return .ipv6Prefix(network) }
        return text.isEmpty ? nil : .adSite(text)
    }

    private static func readSystem(_ node: Node, _ reader: inout NodeReader) -> SiteSystem? {
        guard
            let entries = reader.mapping(
                node,
                "a site system",
                keys: ["host", "roles", "forest", "internetFacing", "protectedBoundaries"],
                required: ["host", "roles"]
            )
        else { return nil }
        let host = reader.hostName(entries["host"], "host")
        let roles = reader.sequence(entries["roles"], "roles").compactMap { reader.choice($0, "role", SiteRole.self) }
        let forest = reader.forestName(entries["forest"], "system forest")
        let protected = reader.sequence(entries["protectedBoundaries"], "protectedBoundaries").compactMap {
            node -> BoundaryValue? in
            guard let text = reader.string(node, "a protected boundary") else { return nil }
            guard let value = parseBoundaryText(text) else {
                reader.error(
                    node,
                    "protected boundary '\(text)' is not a boundary value; expected CIDR, low-high or an AD site name"
                )
                return nil
            }
            return value
        }
        guard let host else { return nil }
        return SiteSystem(
            host: host,
            roles: roles,
            forest: forest,
            internetFacing: reader.bool(entries["internetFacing"], "internetFacing") ?? false,
            protectedBoundaries: protected,
            location: NodeReader.location(node)
        )
    }

    private static func readAddress(_ node: Node, _ reader: inout NodeReader) -> Address? {
        guard
            let entries = reader.mapping(
                node,
                "an address",
                keys: ["to", "sender", "priority", "destination", "schedule", "rateLimit", "unavailableToSubstitute"],
                required: ["to", "sender", "priority"]
            )
        else { return nil }
        let to = reader.siteCode(entries["to"], "address to")
        let sender = reader.choice(entries["sender"], "sender", SenderType.self)
        let priority = reader.int(entries["priority"], "priority", range: 1...999)
        let schedule = reader.sequence(entries["schedule"], "schedule").compactMap { readScheduleEntry($0, &reader) }
        let rateLimit = readRateLimit(entries["rateLimit"], &reader)
        guard let to, let sender, let priority else { return nil }
        return Address(
            to: to,
            sender: sender,
            priority: priority,
            destination: reader.hostName(entries["destination"], "destination"),
            schedule: schedule,
            rateLimit: rateLimit,
            unavailableToSubstitute: reader.bool(entries["unavailableToSubstitute"], "unavailableToSubstitute")
                ?? false,
            location: NodeReader.location(node)
        )
    }

    private static func readScheduleEntry(_ node: Node, _ reader: inout NodeReader) -> ScheduleEntry? {
        guard
            let entries = reader.mapping(
                node,
                "a schedule entry",
                keys: ["days", "hours", "allow"],
                required: ["hours", "allow"]
            )
        else { return nil }
        let days =
            entries["days"] == nil
            ? Weekday.allCases
            : reader.sequence(entries["days"], "days").compactMap { reader.choice($0, "day", Weekday.self) }
        let allow = reader.choice(entries["allow"], "allow", ScheduleAllowance.self)
        let hours = reader.string(entries["hours"], "hours").flatMap { text -> (Int, Int)? in
            guard let span = parseHours(text) else {
                reader.error(
                    entries["hours"],
                    "hours '\(text)' is not an hour range; expected \"a-b\" with whole hours 0 to 24 and a ≠ b, e.g. \"08-18\""
                )
                return nil
            }
            return span
        }
        guard let allow, let hours else { return nil }
        return ScheduleEntry(
            days: days,
            startHour: hours.0,
            endHour: hours.1,
            allow: allow,
            location: NodeReader.location(node)
        )
    }

    static func parseHours(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int(parts[0]), let end = Int(parts[1]), (0...24).contains(start),
            (0...24).contains(end), start != end
        else { return nil }
        return (start % 24, end)
    }

    private static func readRateLimit(_ node: Node?, _ reader: inout NodeReader) -> RateLimit {
        guard let node, !node.isNull else { return .unlimited }
        if case .scalar = node {
            if reader.string(node, "rateLimit") != "unlimited" {
                reader.error(
                    node,
                    "rateLimit is not known; expected unlimited, {pulse: {blockKB, delaySeconds}} or {hourly: {\"a-b\": percent}}"
                )
            }
            return .unlimited
        }
        guard let entries = reader.mapping(node, "rateLimit", keys: ["pulse", "hourly"]), entries.count == 1 else {
            reader.error(node, "rateLimit names no kind or several; expected exactly one of pulse, hourly")
            return .unlimited
        }
        if let pulse = reader.mapping(
            entries["pulse"],
            "pulse",
            keys: ["blockKB", "delaySeconds"],
            required: ["blockKB", "delaySeconds"]
        ) {
            let block = reader.int(pulse["blockKB"], "blockKB", range: 1...1_000_000) ?? 1
            let delay = reader.int(pulse["delaySeconds"], "delaySeconds", range: 0...86_400) ?? 0
            return .pulse(blockKB: block, delaySeconds: delay)
        }
        if let hourly = entries["hourly"] {
            guard case .mapping(let mapping) = hourly else {
                reader.error(hourly, "hourly is not a mapping; expected {\"a-b\": percent, …}")
                return .unlimited
            }
            var spans: [(startHour: Int, endHour: Int, percent: Int)] = []
            for (key, value) in mapping {
                guard let text = key.string, let hours = parseHours(text) else {
                    reader.error(
                        key,
                        "hourly range '\(key.string ?? "?")' is not an hour range; expected \"a-b\", e.g. \"08-18\""
                    )
                    continue
                }
                guard let percent = reader.int(value, "hourly percent", range: 1...100) else { continue }
                spans.append((hours.0, hours.1, percent))
            }
            return .hourly(spans)
        }
        return .unlimited
    }

    private static func readPackage(_ node: Node, _ reader: inout NodeReader) -> Package? {
        guard
            let entries = reader.mapping(
                node,
                "a package",
                keys: ["id", "name", "sourceSite", "sizeKB", "distributionPoints"],
                required: ["id", "sourceSite"]
            )
        else { return nil }
        let id = reader.string(entries["id"], "package id").map(ASCII.uppercased)
        let source = reader.siteCode(entries["sourceSite"], "sourceSite")
        let points = reader.sequence(entries["distributionPoints"], "distributionPoints").compactMap {
            reader.hostName($0, "a distribution point")
        }
        guard let id, let source else { return nil }
        return Package(
            id: id,
            name: reader.string(entries["name"], "package name"),
            sourceSite: source,
            sizeKB: reader.int(entries["sizeKB"], "sizeKB", range: 0...Int.max) ?? 0,
            distributionPoints: points,
            location: NodeReader.location(entries["id"])
        )
    }

    private static func readAdvertisement(_ node: Node, _ reader: inout NodeReader) -> Advertisement? {
        guard
            let entries = reader.mapping(
                node,
                "an advertisement",
                keys: ["id", "package", "fastBoundary", "slowBoundary", "allowFallbackToUnprotected"],
                required: ["id", "package"]
            )
        else { return nil }
        let id = reader.string(entries["id"], "advertisement id").map(ASCII.uppercased)
        let package = reader.string(entries["package"], "advertisement package").map(ASCII.uppercased)
        let fast =
            reader.choice(entries["fastBoundary"], "fastBoundary", Advertisement.FastAction.self) ?? .downloadAndRun
        let slow = reader.choice(entries["slowBoundary"], "slowBoundary", Advertisement.SlowAction.self) ?? .doNotRun
        guard let id, let package else { return nil }
        return Advertisement(
            id: id,
            package: package,
            fastBoundary: fast,
            slowBoundary: slow,
            allowFallbackToUnprotected: reader.bool(entries["allowFallbackToUnprotected"], "allowFallbackToUnprotected")
                ?? false,
            location: NodeReader.location(entries["id"])
        )
    }
}
