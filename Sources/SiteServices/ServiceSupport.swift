public import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
import SiteDatabase
import SiteLocation
import SiteServer
import Synchronization

/// The request context of siteloc's services: Hummingbird's, with request bodies bounded to what a content location
/// request can need.
public struct SiteRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { ContentService.maximumRequestBytes }
}

/// A site's database opened read-only on first use (the site server creates it), then kept.
final class SiteDatabaseReader: Sendable {
    private let folders: SiteFolders
    private let opened = Mutex<SiteDatabase?>(nil)

    init(folders: SiteFolders) { self.folders = folders }

    func get() -> SiteDatabase? {
        opened.withLock { database in
            if database == nil { database = (try? folders.openDatabase(readOnly: true)) ?? nil }
            return database
        }
    }
}

/// Error answers as `application/problem+json`.
enum Problems {
    static func response(_ problem: ServiceProblem) -> Response {
        let data = (try? JSONEncoder().encode(problem)) ?? Data()
        return Response(
            status: HTTPResponse.Status(code: problem.status),
            headers: [.contentType: "application/problem+json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func badRequest(_ detail: String, field: String?) -> Response {
        response(ServiceProblem(status: 400, title: "Bad Request", detail: detail, field: field))
    }

    static func notFound(_ detail: String) -> Response {
        response(ServiceProblem(status: 404, title: "Not Found", detail: detail))
    }
}

/// JSON answers, keys sorted so that the same answer is the same bytes.
enum JSONAnswer {
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        response(encoded: encode(value), status: status)
    }

    static func encode(_ value: some Encodable) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return ByteBuffer(bytes: (try? encoder.encode(value)) ?? Data())
    }

    static func response(encoded body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
    }
}

/// Where site systems' services listen: a host name to its base URL (`http://127.0.0.1:PORT` in a lab, in a
/// deployment `http(s)://HOST`).
public typealias SystemURLs = @Sendable (_ host: String) -> URL?
