public import Foundation
public import SiteModel

/// How urgent a job is; an address's schedule admits some priorities at each hour.
public enum JobPriority: String, Sendable, CaseIterable, Codable {
    case high, medium, low
}

/// One hop of a route: the address the sending site uses for the next site.
public struct RouteHop: Sendable, Equatable {
    public var from: SiteCode
    public var to: SiteCode
    public var sender: SenderType
    /// The address's priority (1 first).
    public var priority: Int
    /// Whether this platform has the sender (the RAS and SNA senders are modelled, not installed).
    public var installed: Bool
    /// When no address is open at the planned time: the earliest time one opens, on the hour.
    public var waitUntil: Date?
}

/// Why a route cannot be made (docs/site-communication.md).
public struct RouteFailure: KindedError, Sendable, Equatable {
    /// A route that cannot be made is what the route check finds.
    public var kind: FailureKind { .checkFailed }
    public enum Code: String, Sendable, Codable {
        case missingAddress = "missing-address"
        case noAvailableAddress = "no-available-address"
        case unknownSite = "unknown-site"
    }

    public var code: Code
    /// The hop's sending site (the requested source for `unknown-site`).
    public var from: String
    /// The next-hop site (the requested destination for `unknown-site`).
    public var to: String
    public var message: String

    public var description: String { message }
}

/// A planned route: the hops up to the lowest common ancestor and down to the destination, or why there is none.
public struct Route: Sendable, Equatable {
    public var from: String
    public var to: String
    public var priority: JobPriority
    /// The hops planned before the failure, or all of them.
    public var hops: [RouteHop]
    public var failure: RouteFailure?
    /// The sites' shared time zone, in which `waitUntil` is written.
    public var timeZone: TimeZone

    public var ok: Bool { failure == nil }
}

extension Route: Encodable {
    private enum Key: String, CodingKey { case from, to, priority, ok, hops, error }
    private enum HopKey: String, CodingKey { case from, to, sender, priority, installed, waitUntil }
    private enum ErrorKey: String, CodingKey { case code, from, to, message }

    /// The JSON of docs/site-communication.md, with `waitUntil` and `error` as null when there is none.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(priority, forKey: .priority)
        try container.encode(ok, forKey: .ok)
        var list = container.nestedUnkeyedContainer(forKey: .hops)
        for hop in hops {
            var item = list.nestedContainer(keyedBy: HopKey.self)
            try item.encode(hop.from.rawValue, forKey: .from)
            try item.encode(hop.to.rawValue, forKey: .to)
            try item.encode(hop.sender.rawValue, forKey: .sender)
            try item.encode(hop.priority, forKey: .priority)
            try item.encode(hop.installed, forKey: .installed)
            try item.encode(hop.waitUntil.map { LocalTime.string(from: $0, in: timeZone) }, forKey: .waitUntil)
        }
        if let failure {
            var error = container.nestedContainer(keyedBy: ErrorKey.self, forKey: .error)
            try error.encode(failure.code, forKey: .code)
            try error.encode(failure.from, forKey: .from)
            try error.encode(failure.to, forKey: .to)
            try error.encode(failure.message, forKey: .message)
        } else {
            try container.encodeNil(forKey: .error)
        }
    }
}

/// ISO 8601 local time to the minute (`2026-11-23T10:00`), the form of `--at` and `waitUntil`.
public enum LocalTime {
    /// Parses `YYYY-MM-DDTHH:MM` in the time zone; nil for anything else or a time that does not exist there.
    public static func parse(_ text: String, in timeZone: TimeZone = .current) -> Date? {
        let parts = text.split(separator: "T", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        let clock = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        guard date.count == 3, clock.count == 2, date[0].count == 4, date[1].count == 2, date[2].count == 2,
            clock[0].count == 2, clock[1].count == 2,
            let year = Int(date[0]), let month = Int(date[1]), let day = Int(date[2]),
            let hour = Int(clock[0]), let minute = Int(clock[1]),
            (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute)
        guard let result = calendar.date(from: components) else { return nil }
        // Rejects dates that roll over (February 30th) and times skipped by a clock change.
        let back = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: result)
        guard back.year == year, back.month == month, back.day == day, back.hour == hour, back.minute == minute
        else { return nil }
        return result
    }

    /// Writes the time as `YYYY-MM-DDTHH:MM` in the time zone.
    public static func string(from date: Date, in timeZone: TimeZone = .current) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d",
            parts.year ?? 0,
            parts.month ?? 0,
            parts.day ?? 0,
            parts.hour ?? 0,
            parts.minute ?? 0
        )
    }
}

/// Plans routes through a hierarchy's addresses: each hop by schedule, the job's priority and the addresses'
/// priorities, every hop at the same time (docs/site-communication.md, "Choosing an address").
public struct RoutePlanner: Sendable {
    public let hierarchy: Hierarchy
    /// The calendar whose time zone all sites share (the machine's, by default).
    public let calendar: Calendar

    public init(hierarchy: Hierarchy, calendar: Calendar = .current) {
        self.hierarchy = hierarchy
        self.calendar = calendar
    }

    /// The sites a job passes through from `from` to `to`, both included: up to their lowest common ancestor,
    /// then down. Nil when either site is not in the hierarchy.
    public func path(from: SiteCode, to: SiteCode) -> [SiteCode]? {
        guard let up = ancestry(of: from), let down = ancestry(of: to) else { return nil }
        guard let common = up.first(where: { down.contains($0) }) else { return nil }
        let ascent = up.prefix { $0 != common }
        let descent = down.prefix { $0 != common }.reversed()
        return Array(ascent) + [common] + descent
    }

    /// Plans the route for a job of `priority` sent at `time`.
    public func route(from source: String, to destination: String, priority: JobPriority, at time: Date) -> Route {
        var route = Route(
            from: source,
            to: destination,
            priority: priority,
            hops: [],
            failure: nil,
            timeZone: calendar.timeZone
        )
        func unknown(_ message: String) -> Route {
            route.failure = RouteFailure(code: .unknownSite, from: source, to: destination, message: message)
            return route
        }
        guard let from = try? SiteCode(source), hierarchy.site(from) != nil else {
            return unknown("the source site \(source) is not in the hierarchy; \(expectedSites)")
        }
        guard let to = try? SiteCode(destination), hierarchy.site(to) != nil else {
            return unknown("the destination site \(destination) is not in the hierarchy; \(expectedSites)")
        }
        // Both sites are in the hierarchy; only a parent cycle, which validation refuses, leaves no path.
        guard let sites = path(from: from, to: to) else {
            return unknown("\(source) and \(destination) have no common ancestor")
        }
        route.from = from.rawValue
        route.to = to.rawValue
        for (sending, next) in zip(sites, sites.dropFirst()) {
            switch hop(from: sending, to: next, priority: priority, at: time) {
            case .success(let hop): route.hops.append(hop)
            case .failure(let failure):
                route.failure = failure
                return route
            }
        }
        return route
    }

    private var expectedSites: String {
        "expected the code of a site in the hierarchy: \(hierarchy.sites.map(\.code.rawValue).joined(separator: ", "))"
    }

    /// The address `sending` uses for `next`: the first by priority whose schedule admits the job at `time`,
    /// else the one that opens soonest, with `waitUntil`.
    public func hop(
        from sending: SiteCode,
        to next: SiteCode,
        priority: JobPriority,
        at time: Date
    ) -> Result<RouteHop, RouteFailure> {
        let addresses = (hierarchy.site(sending)?.addresses ?? []).filter { $0.to == next }
            .sorted { $0.priority < $1.priority }
        guard !addresses.isEmpty else {
            return .failure(
                RouteFailure(
                    code: .missingAddress,
                    from: sending.rawValue,
                    to: next.rawValue,
                    message: "site \(sending) has no address for \(next); add one under \(sending)'s addresses"
                )
            )
        }
        let hour = hourOfWeek(time)
        if let open = addresses.first(where: { Self.admits($0, priority, hourOfWeek: hour) }) {
            return .success(Self.hop(sending, next, open, waitUntil: nil))
        }
        // Whole hours: the next opening is on one of the coming hours of the week.
        for offset in 1..<Self.hoursPerWeek {
            let later = (hour + offset) % Self.hoursPerWeek
            if let open = addresses.first(where: { Self.admits($0, priority, hourOfWeek: later) }) {
                let onTheHour = calendar.dateInterval(of: .hour, for: time)?.start ?? time
                let opening = calendar.date(byAdding: .hour, value: offset, to: onTheHour) ?? onTheHour
                return .success(Self.hop(sending, next, open, waitUntil: opening))
            }
        }
        return .failure(
            RouteFailure(
                code: .noAvailableAddress,
                from: sending.rawValue,
                to: next.rawValue,
                message:
                    "no address of site \(sending) for \(next) ever admits a \(priority.rawValue)-priority job; "
                    + "open a schedule entry for it (allow: all, mediumAndHigh or highOnly)"
            )
        )
    }

    /// Whether the address's schedule admits the priority in that hour of the week (0 = Sunday 00:00). Hours no
    /// entry covers admit every priority.
    public static func admits(_ address: Address, _ priority: JobPriority, hourOfWeek hour: Int) -> Bool {
        guard let entry = address.schedule.first(where: { $0.covers(hourOfWeek: hour) }) else { return true }
        switch (entry.allow, priority) {
        case (.all, _): return true
        case (.mediumAndHigh, .high), (.mediumAndHigh, .medium): return true
        case (.highOnly, .high): return true
        default: return false
        }
    }

    static let hoursPerWeek = 7 * 24

    /// The hour of the week of `time` in the planner's calendar, 0 = Sunday 00:00 (as ``ScheduleEntry``).
    public func hourOfWeek(_ time: Date) -> Int {
        let parts = calendar.dateComponents([.weekday, .hour], from: time)
        return ((parts.weekday ?? 1) - 1) * 24 + (parts.hour ?? 0)
    }

    private static func hop(_ from: SiteCode, _ to: SiteCode, _ address: Address, waitUntil: Date?) -> RouteHop {
        RouteHop(
            from: from,
            to: to,
            sender: address.sender,
            priority: address.priority,
            installed: address.sender.isInstalled,
            waitUntil: waitUntil
        )
    }

    /// The site and its ancestors, nearest first; nil for an unknown site or a cycle.
    private func ancestry(of code: SiteCode) -> [SiteCode]? {
        var chain: [SiteCode] = []
        var current: SiteCode? = code
        while let site = current {
            guard hierarchy.site(site) != nil, !chain.contains(site) else { return nil }
            chain.append(site)
            current = hierarchy.site(site)?.parent
        }
        return chain
    }
}

extension SenderType {
    /// Whether this platform carries jobs through the sender: `standard` (SMB or a folder) and `courier` (parcel
    /// files) are installed; the RAS and SNA senders are modelled for planning only.
    public var isInstalled: Bool {
        switch self {
        case .standard, .courier: return true
        case .asyncRas, .isdnRas, .x25Ras, .snaRas: return false
        }
    }
}
