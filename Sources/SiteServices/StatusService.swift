import BlockingWork
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SiteModel
import SiteServer

/// The status page of a site (docs/operations.md), on its management points' listeners: `/siteloc/status` as HTML,
/// `/siteloc/v1/status` as JSON; both answers are never cached by others. Reading the site server's records and
/// rendering them is file I/O and CPU, so it runs on the blocking executor, once for all readers of the same second:
/// however many ask at once, one snapshot is built at a time.
struct StatusService: Sendable {
    let hierarchy: Hierarchy
    let folders: SiteFolders
    let snapshots = StatusSnapshots()

    func addRoutes(to router: Router<SiteRequestContext>) {
        router.get("/siteloc/status") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: await snapshot().html)
            )
        }
        router.get("/siteloc/v1/status") { _, _ in
            var response = JSONAnswer.response(encoded: await snapshot().json)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    func snapshot() async -> StatusSnapshots.Snapshot {
        let hierarchy = hierarchy
        let folders = folders
        return await snapshots.current {
            await withBlockingWork {
                let overview = SiteOverview(status: SiteStatus(folders: folders), hierarchy: hierarchy)
                return StatusSnapshots.Snapshot(
                    html: ByteBuffer(string: StatusPage.render(overview)),
                    json: JSONAnswer.encode(overview)
                )
            }
        }
    }
}

/// The last status snapshot, shared for `maximumAge`, and the one being built.
actor StatusSnapshots {
    struct Snapshot: Sendable {
        var html: ByteBuffer
        var json: ByteBuffer
    }

    static let maximumAge = Duration.seconds(1)
    private var latest: (built: ContinuousClock.Instant, snapshot: Snapshot)?
    private var building: Task<Snapshot, Never>?

    func current(build: @escaping @Sendable () async -> Snapshot) async -> Snapshot {
        if let latest, ContinuousClock.now - latest.built < Self.maximumAge { return latest.snapshot }
        if let building { return await building.value }
        let task = Task { await build() }
        building = task
        let snapshot = await task.value
        latest = (ContinuousClock.now, snapshot)
        building = nil
        return snapshot
    }
}
