public import Foundation
import SiteDatabase
public import SiteModel
public import SiteServer

/// What the status page shows for one site (docs/operations.md): the hierarchy from this site down with each
/// site's last report, Configuration Manager's package status, the outbox, rejected jobs, and the links between
/// the sites with their schedules for today. The same value is the page's JSON.
public struct SiteOverview: Sendable, Encodable {
    public struct SiteNode: Sendable, Encodable {
        public var site: String
        public var name: String?
        public var type: String
        public var parent: String?
        /// 0 for this site, 1 for its children, and so on.
        public var depth: Int
        public var server: String
        /// This site's server heartbeat; for a site below, when its newest package status arrived here.
        public var lastStatus: Date?
    }

    public struct LinkHour: Sendable, Encodable, Equatable {
        public var startHour: Int
        public var endHour: Int
        /// `all`, `mediumAndHigh`, `highOnly` or `closed`: the priorities the address admits in those hours.
        public var allow: String
    }

    public struct Link: Sendable, Encodable {
        public var from: String
        public var to: String
        public var sender: String
        public var priority: Int
        public var destination: String?
        /// Today's hours in runs of the same allowance, midnight to midnight in the site server's time zone.
        public var today: [LinkHour]
        /// What the address admits in the current hour.
        public var now: String
    }

    public var site: String
    public var generatedAt: Date
    public var running: Bool
    public var heartbeat: Date?
    public var sites: [SiteNode]
    public var packages: [PackageStatusSummary]
    public var outbox: [SiteStatus.OutgoingJob]
    /// The newest refused jobs the site keeps, newest first.
    public var rejected: [SiteStatus.RejectedJob]
    /// Every job the site refused, kept or not.
    public var rejectedTotal: Int
    public var links: [Link]
    public var applied: Int
    public var forwarded: Int

    /// Builds the overview from the site server's records (`status`) and the hierarchy it runs with; `calendar`
    /// says what "today" is.
    public init(status: SiteStatus, hierarchy: Hierarchy, now: Date = Date(), calendar: Calendar = .current) {
        site = status.site
        generatedAt = now
        running = status.running
        heartbeat = status.heartbeat
        var lastReport: [String: Date] = [:]
        for report in status.below {
            let time = report.receivedAt ?? report.placedAt
            lastReport[report.site] = max(lastReport[report.site] ?? time, time)
        }
        var nodes: [SiteNode] = []
        var subtree: [Site] = []
        func visit(_ site: Site, depth: Int) {
            subtree.append(site)
            nodes.append(
                SiteNode(
                    site: site.code.rawValue,
                    name: site.name,
                    type: site.type.rawValue,
                    parent: site.parent?.rawValue,
                    depth: depth,
                    server: site.server,
                    lastStatus: depth == 0 ? status.heartbeat : lastReport[site.code.rawValue]
                )
            )
            for child in hierarchy.children(of: site.code).sorted(by: { $0.code.rawValue < $1.code.rawValue }) {
                visit(child, depth: depth + 1)
            }
        }
        let here = try? SiteCode(exactly: status.site)
        if let here, let root = hierarchy.site(here) { visit(root, depth: 0) }
        sites = nodes
        packages = PackageStatusSummary.make(status, hierarchy: hierarchy)
        outbox = status.outbox
        rejected = status.rejected
        rejectedTotal = status.rejectedTotal
        let weekday = calendar.component(.weekday, from: now) - 1  // 0 = Sunday, as hours of the week count
        let hour = calendar.component(.hour, from: now)
        links = subtree.flatMap { site in
            site.addresses.sorted { ($0.to.rawValue, $0.priority) < ($1.to.rawValue, $1.priority) }.map {
                address in
                Link(
                    from: site.code.rawValue,
                    to: address.to.rawValue,
                    sender: address.sender.rawValue,
                    priority: address.priority,
                    destination: address.destination,
                    today: Self.runs(of: address, weekday: weekday),
                    now: Self.allowance(of: address, hourOfWeek: weekday * 24 + hour)
                )
            }
        }
        applied = status.applied
        forwarded = status.forwarded
    }

    /// The first schedule entry covering the hour decides; hours no entry covers admit every priority (as route
    /// planning reads a schedule).
    static func allowance(of address: Address, hourOfWeek: Int) -> String {
        address.schedule.first { $0.covers(hourOfWeek: hourOfWeek) }?.allow.rawValue ?? ScheduleAllowance.all.rawValue
    }

    static func runs(of address: Address, weekday: Int) -> [LinkHour] {
        var runs: [LinkHour] = []
        for hour in 0..<24 {
            let allow = allowance(of: address, hourOfWeek: weekday * 24 + hour)
            if let last = runs.last, last.allow == allow {
                runs[runs.count - 1].endHour = hour + 1
            } else {
                runs.append(LinkHour(startHour: hour, endHour: hour + 1, allow: allow))
            }
        }
        return runs
    }
}
