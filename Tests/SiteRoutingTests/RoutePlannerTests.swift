import Foundation
import HierarchyFile
import SiteModel
import SiteRouting
import Testing

@Suite struct RoutePlannerTests {
    static let yaml = """
        version: 1
        forests:
          - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            addresses:
              - to: P01
                sender: standard
                priority: 1
                schedule: [{days: [mon, tue, wed, thu, fri], hours: "08-18", allow: highOnly}]
              - {to: P01, sender: courier, priority: 2}
              - to: P02
                sender: standard
                priority: 1
                schedule: [{hours: "08-18", allow: closed}]
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            addresses:
              - {to: CEN, sender: standard, priority: 1}
              - {to: S01, sender: standard, priority: 2}
              - {to: S01, sender: asyncRas, priority: 1}
              - {to: P11, sender: standard, priority: 1}
          - code: S01
            type: secondary
            parent: P01
            forest: corp.contoso.com
            server: s01-ss.corp.contoso.com
            addresses:
              - {to: P01, sender: standard, priority: 1}
          - code: P11
            type: primary
            parent: P01
            forest: corp.contoso.com
            server: p11-ss.corp.contoso.com
          - code: P12
            type: primary
            parent: P01
            forest: corp.contoso.com
            server: p12-ss.corp.contoso.com
            addresses:
              - {to: P01, sender: standard, priority: 1}
          - code: P02
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p02-ss.corp.contoso.com
            addresses:
              - to: CEN
                sender: standard
                priority: 1
                schedule: [{hours: "00-24", allow: mediumAndHigh}]
        """

    static let hierarchy: Hierarchy = {
        let result = HierarchyReader.read(yaml)
        precondition(result.errors.isEmpty, "\(result.errors)")
        return result.hierarchy
    }()

    static let utc = TimeZone(identifier: "UTC")!
    static let planner: RoutePlanner = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        return RoutePlanner(hierarchy: hierarchy, calendar: calendar)
    }()

    static func time(_ text: String) -> Date { LocalTime.parse(text, in: utc)! }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let from: String
        let to: String
        var priority = JobPriority.medium
        var at = "2026-11-23T10:00"  // a Monday
        /// "FROM>TO sender priority [installed] [wait TIME]" per hop.
        let hops: [String]
        var failure: String? = nil  // "code FROM>TO"

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "to a child: one hop", from: "P01", to: "P11", hops: ["P01>P11 standard 1"]),
        Case(name: "to the parent: one hop", from: "S01", to: "P01", hops: ["S01>P01 standard 1"]),
        Case(
            name: "to a sibling: through the parent",
            from: "S01",
            to: "P11",
            hops: ["S01>P01 standard 1", "P01>P11 standard 1"]
        ),
        Case(
            name: "across the hierarchy: up to the common ancestor and down",
            from: "S01",
            to: "P02",
            at: "2026-11-23T20:00",
            hops: ["S01>P01 standard 1", "P01>CEN standard 1", "CEN>P02 standard 1"]
        ),
        Case(
            name: "to a grandchild: through the child; the first address by priority even if not installed here",
            from: "CEN",
            to: "S01",
            at: "2026-11-23T20:00",
            hops: ["CEN>P01 standard 1", "P01>S01 asyncRas 1 not-installed"]
        ),
        Case(
            name: "a schedule that admits only high skips to the next address for a medium job",
            from: "CEN",
            to: "P01",
            hops: ["CEN>P01 courier 2"]
        ),
        Case(
            name: "a high job takes the scheduled address",
            from: "CEN",
            to: "P01",
            priority: .high,
            hops: ["CEN>P01 standard 1"]
        ),
        Case(
            name: "hours no entry covers admit every priority",
            from: "CEN",
            to: "P01",
            priority: .low,
            at: "2026-11-23T07:59",
            hops: ["CEN>P01 standard 1"]
        ),
        Case(
            name: "a weekend hour is not covered by a weekday entry",
            from: "CEN",
            to: "P01",
            priority: .low,
            at: "2026-11-21T10:00",
            hops: ["CEN>P01 standard 1"]
        ),
        Case(
            name: "no address open yet: the hop waits until the earliest opening, on the hour",
            from: "CEN",
            to: "P02",
            at: "2026-11-23T10:25",
            hops: ["CEN>P02 standard 1 wait 2026-11-23T18:00"]
        ),
        Case(
            name: "an address that never admits the priority: no-available-address",
            from: "P02",
            to: "CEN",
            priority: .low,
            hops: [],
            failure: "no-available-address P02>CEN"
        ),
        Case(
            name: "no address for the next site: missing-address names the hop",
            from: "P11",
            to: "S01",
            hops: [],
            failure: "missing-address P11>P01"
        ),
        Case(
            name: "a missing address further along: the hops before it are kept",
            from: "CEN",
            to: "P12",
            at: "2026-11-23T20:00",
            hops: ["CEN>P01 standard 1"],
            failure: "missing-address P01>P12"
        ),
        Case(name: "a site to itself: no hops", from: "P01", to: "P01", hops: []),
        Case(name: "an unknown site", from: "CEN", to: "XYZ", hops: [], failure: "unknown-site CEN>XYZ"),
        Case(name: "not a site code", from: "CENTRAL", to: "P01", hops: [], failure: "unknown-site CENTRAL>P01"),
    ]

    @Test(arguments: cases)
    func routes(_ testCase: Case) {
        let route = Self.planner.route(
            from: testCase.from,
            to: testCase.to,
            priority: testCase.priority,
            at: Self.time(testCase.at)
        )
        let hops = route.hops.map { hop in
            var text = "\(hop.from)>\(hop.to) \(hop.sender.rawValue) \(hop.priority)"
            if !hop.installed { text += " not-installed" }
            if let wait = hop.waitUntil { text += " wait \(LocalTime.string(from: wait, in: Self.utc))" }
            return text
        }
        #expect(hops == testCase.hops)
        #expect(route.failure.map { "\($0.code.rawValue) \($0.from)>\($0.to)" } == testCase.failure)
        #expect(route.ok == (testCase.failure == nil))
    }

    @Test func pathsGoThroughTheLowestCommonAncestor() throws {
        let path = Self.planner.path(from: try SiteCode("S01"), to: try SiteCode("P02"))
        #expect(path?.map(\.rawValue) == ["S01", "P01", "CEN", "P02"])
        #expect(Self.planner.path(from: try SiteCode("P11"), to: try SiteCode("S01"))?.count == 3)
        #expect(Self.planner.path(from: try SiteCode("P11"), to: try SiteCode("ZZZ")) == nil)
    }

    @Test func theJSONHasTheSpecsFieldsWithNulls() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let waiting = Self.planner.route(from: "CEN", to: "P02", priority: .medium, at: Self.time("2026-11-23T10:00"))
        let text = String(decoding: try encoder.encode(waiting), as: UTF8.self)
        #expect(
            text
                == #"{"error":null,"from":"CEN","hops":[{"from":"CEN","installed":true,"priority":1,"sender":"standard","#
                + #""to":"P02","waitUntil":"2026-11-23T18:00"}],"ok":true,"priority":"medium","to":"P02"}"#
        )
        let failed = Self.planner.route(from: "P11", to: "CEN", priority: .high, at: Self.time("2026-11-23T10:00"))
        let object = try JSONSerialization.jsonObject(with: try encoder.encode(failed)) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        #expect(object?["ok"] as? Bool == false)
        #expect(error?["code"] as? String == "missing-address")
        #expect(error?["from"] as? String == "P11")
        #expect(error?["to"] as? String == "P01")
        #expect((error?["message"] as? String)?.contains("P11") == true)
    }

    @Test(arguments: [
        "2026-02-30T10:00", "2026-11-23 10:00", "2026-11-23T24:00", "2026-11-23T10:00:00", "", "tomorrow",
    ])
    func localTimesOutsideTheFormAreRefused(_ text: String) {
        #expect(LocalTime.parse(text, in: Self.utc) == nil)
    }

    @Test func localTimesRoundTrip() {
        for text in ["2026-11-23T10:00", "2026-01-01T00:00", "2028-02-29T23:59"] {
            #expect(LocalTime.parse(text, in: Self.utc).map { LocalTime.string(from: $0, in: Self.utc) } == text)
        }
    }
}

extension RoutePlannerTests {
    @Test(arguments: [
        ScheduleEntry(days: [.mon, .tue, .wed, .thu, .fri], startHour: 8, endHour: 18, allow: .highOnly),
        ScheduleEntry(days: [.sat], startHour: 22, endHour: 6, allow: .closed),
        ScheduleEntry(days: Weekday.allCases, startHour: 0, endHour: 24, allow: .mediumAndHigh),
        ScheduleEntry(days: [.sun], startHour: 23, endHour: 1, allow: .all),
    ])
    func coverageAgreesWithTheHoursOfTheWeek(_ entry: ScheduleEntry) {
        for hour in 0..<(7 * 24) {
            #expect(entry.covers(hourOfWeek: hour) == entry.hoursOfWeek.contains(hour), "hour \(hour)")
        }
    }
}
