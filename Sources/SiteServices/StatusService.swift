import BlockingWork
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SiteModel
import SiteServer

/// The status page of a site (docs/operations.md), on its management points' listeners: `/siteloc/status` as HTML,
/// `/siteloc/v1/status` as JSON. Reading the site server's records is file I/O, so it runs on the blocking
/// executor; both answers are never cached.
struct StatusService: Sendable {
    let hierarchy: Hierarchy
    let folders: SiteFolders

    func addRoutes(to router: Router<SiteRequestContext>) {
        router.get("/siteloc/status") { _, _ in
            let page = StatusPage.render(await overview())
            return Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: page))
            )
        }
        router.get("/siteloc/v1/status") { _, _ in
            var response = JSONAnswer.response(await overview())
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    func overview() async -> SiteOverview {
        let hierarchy = hierarchy
        let folders = folders
        return await withBlockingWork { SiteOverview(status: SiteStatus(folders: folders), hierarchy: hierarchy) }
    }
}
