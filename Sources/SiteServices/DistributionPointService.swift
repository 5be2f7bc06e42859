import BlockingWork
import Foundation
import HTTPTypes
public import Hummingbird
import NIOCore
import SiteDatabase
import SiteLocation
import SiteModel
public import SiteServer

#if canImport(Glibc)
import Glibc
#endif

/// A distribution point (docs/content-services.md): the content of the packages placed on this host, and nothing
/// else, under `/SMS_DP_SMSPKG$/<package>/`, with a strong `ETag` (the version), `Range`, `If-Range` and `HEAD`.
/// The file comes from the site database's placement and the site's content library; no path is ever taken from the
/// request: a package id is eight characters A–Z 0–9 or the answer is 404.
public struct DistributionPointService: Sendable {
    public let host: String
    private let metrics: ContentMetrics
    let folders: SiteFolders
    let database: SiteDatabaseReader

    public init(host: String, folders: SiteFolders) {
        self.host = host.lowercased()
        self.folders = folders
        database = SiteDatabaseReader(folders: folders)
        metrics = ContentMetrics(host: self.host)
    }

    public func addRoutes(to router: Router<SiteRequestContext>) {
        // Hummingbird matches the path with or without its trailing slash.
        let path = RouterPath("/SMS_DP_SMSPKG$/:package")
        router.get(path) { request, context in try await self.serve(request, context, body: true) }
        router.head(path) { request, context in try await self.serve(request, context, body: false) }
    }

    func serve(_ request: Request, _ context: SiteRequestContext, body: Bool) async throws -> Response {
        guard let package = context.parameters.get("package"), Self.isPackageID(package),
            let content = try await withBlockingWork({ try open(package) })
        else {
            metrics.request(.notFound)
            return Problems.response(.init(status: 404, title: "Not Found", detail: "no such package on \(host)"))
        }
        let etag = "\"\(content.version)\""
        var headers: HTTPFields = [
            .eTag: etag, .acceptRanges: "bytes", .contentType: "application/octet-stream",
            .cacheControl: "no-transform",
        ]
        let answer = RangeAnswer.answer(
            range: request.headers[.range],
            ifRange: request.headers[.ifRange],
            size: content.size,
            etag: etag
        )
        let status: HTTPResponse.Status
        let lower: Int64
        let count: Int64
        switch answer {
        case .whole:
            (status, lower, count) = (.ok, 0, content.size)
            metrics.request(.whole)
        case .part(let first, let last):
            (status, lower, count) = (.partialContent, first, last - first + 1)
            headers[.contentRange] = "bytes \(first)-\(last)/\(content.size)"
            metrics.request(.range)
        case .unsatisfiable:
            metrics.request(.unsatisfiable)
            headers[.contentRange] = "bytes */\(content.size)"
            headers[.contentLength] = "0"
            return Response(status: .rangeNotSatisfiable, headers: headers, body: ResponseBody())
        }
        headers[.contentLength] = String(count)
        guard body else { return Response(status: status, headers: headers, body: ResponseBody()) }
        let file = content.file
        let metrics = metrics
        return Response(
            status: status,
            headers: headers,
            body: ResponseBody(contentLength: Int(count)) { writer in
                let lane = ContentLane()
                var offset = lower
                let end = lower + count
                while offset < end {
                    let want = Int(min(Int64(ContentChunks.bytes), end - offset))
                    let chunk = try await lane.read(file, at: offset, count: want)
                    try await writer.write(chunk)
                    metrics.served(chunk.readableBytes)
                    offset += Int64(chunk.readableBytes)
                }
                try await writer.finish(nil)
            }
        )
    }

    /// The version of `package` placed on this host, opened: nil when it is not placed here (whatever other
    /// distribution points of the site hold) or its file is not there.
    private func open(_ package: String) throws -> OpenContent? {
        guard let database = database.get(), let placement = try database.placement(of: package),
            placement.distributionPoints.contains(where: { $0.lowercased() == host })
        else { return nil }
        let file = ContentLibrary(folders: folders, database: database).contentFile(
            package,
            version: placement.version
        )
        guard let handle = ContentFile(opening: file), handle.size == placement.bytes else { return nil }
        return OpenContent(version: placement.version, size: handle.size, file: handle)
    }

    static func isPackageID(_ text: String) -> Bool {
        text.utf8.count == 8 && text.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) }
    }
}

struct OpenContent: Sendable {
    var version: String
    var size: Int64
    var file: ContentFile
}

/// A content file open for reading; closed when the last reference goes, whether or not the body was sent.
final class ContentFile: Sendable {
    /// Immutable after init: the descriptor is only read from (pread) and closed once, in deinit.
    let descriptor: Int32
    let size: Int64

    init?(opening url: URL) {
        let descriptor = Glibc.open(url.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        guard let size = regularFileSize(descriptor) else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        self.size = size
    }

    deinit { close(descriptor) }

    func read(at offset: Int64, count: Int) throws -> ByteBuffer {
        var buffer = ContentChunks.allocator.buffer(capacity: count)
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            max(0, pread(descriptor, raw.baseAddress, count, off_t(offset)))
        }
        guard read > 0 else { throw ContentFileError(offset: offset) }
        return buffer
    }
}

struct ContentFileError: Error, CustomStringConvertible {
    var offset: Int64
    var description: String { "the content file ended or failed at byte \(offset)" }
}
