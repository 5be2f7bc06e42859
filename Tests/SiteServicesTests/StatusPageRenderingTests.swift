import Hummingbird
import SiteModel
import Testing

@testable import SiteServices

/// What the status page renders from values it does not control, and how it reads a schedule.
@Suite struct StatusPageRenderingTests {
    /// Interpolated text is escaped, nested fragments are not escaped twice.
    @Test func interpolatedTextIsEscapedOnce() {
        let hostile = #"<script>alert("x")</script> & 'q'"#
        let inner: HTML = "<em>\(hostile)</em>"
        let page: HTML = "<p>\(inner)</p>"
        #expect(
            page.text
                == "<p><em>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;</em></p>"
        )
    }

    /// Today's hours come in runs of one allowance: the first entry covering an hour decides, uncovered hours admit
    /// every priority, and a range past midnight starts the next day.
    @Test func todaysScheduleIsReadAsRoutePlanningReadsIt() throws {
        let address = Address(
            to: try SiteCode("P01"),
            sender: .standard,
            priority: 1,
            schedule: [
                ScheduleEntry(days: [.mon], startHour: 8, endHour: 18, allow: .highOnly),
                ScheduleEntry(days: [.mon], startHour: 12, endHour: 14, allow: .closed),
                ScheduleEntry(days: [.sun], startHour: 22, endHour: 2, allow: .closed),
            ]
        )
        let monday = SiteOverview.runs(of: address, weekday: 1)
        #expect(
            monday == [
                .init(startHour: 0, endHour: 2, allow: "closed"), .init(startHour: 2, endHour: 8, allow: "all"),
                .init(startHour: 8, endHour: 18, allow: "highOnly"), .init(startHour: 18, endHour: 24, allow: "all"),
            ]
        )
        #expect(SiteOverview.allowance(of: address, hourOfWeek: 24 + 13) == "highOnly")
        #expect(SiteOverview.runs(of: address, weekday: 3) == [.init(startHour: 0, endHour: 24, allow: "all")])
    }
    /// However many read the status at once, one snapshot is built at a time and shared for a second (hostile review
    /// finding 7: 64 readers each building their own took the process from 138 to 1,320 MiB).
    @Test func concurrentReadersShareOneSnapshot() async {
        let snapshots = StatusSnapshots()
        let readers = 32
        let builds = BuildCount()
        let answers = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<readers {
                group.addTask {
                    await builds.arrive()
                    let snapshot = await snapshots.current {
                        // The build lasts until every reader has come: each of them finds it in flight (or done).
                        await builds.waitForArrivals(readers)
                        let number = await builds.next()
                        return StatusSnapshots.Snapshot(html: ByteBuffer(string: "\(number)"), json: ByteBuffer())
                    }
                    return Int(String(buffer: snapshot.html)) ?? 0
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(await builds.value == 1)
        #expect(Set(answers) == [1])
    }
}

private actor BuildCount {
    var value = 0
    private var arrivals = 0
    private var waiting: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    func next() -> Int {
        value += 1
        return value
    }

    func arrive() {
        arrivals += 1
        let ready = waiting.filter { $0.count <= arrivals }
        waiting.removeAll { $0.count <= arrivals }
        for waiter in ready { waiter.continuation.resume() }
    }

    func waitForArrivals(_ count: Int) async {
        guard arrivals < count else { return }
        await withCheckedContinuation { waiting.append((count, $0)) }
    }
}
