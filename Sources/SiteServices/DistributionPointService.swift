import BlockingWork
import Foundation
import HTTPTypes
public import Hummingbird
import NIOCore
import SiteDatabase
import SiteLocation
import SiteModel
public import SiteServer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A distribution point (docs/content-services.md): the content of the packages placed on this host, and nothing
/// else, under `/SMS_DP_SMSPKG$/<package>/` — and, for WebDAV clients, as that folder's one member
/// `/SMS_DP_SMSPKG$/<package>/content`. Every DP holding a version answers with the same validators: `ETag` (the
/// version), `Last-Modified` (the version's creation time in the site database), `Digest` and `Repr-Digest` (its
/// SHA-256, which the version is). Conditional requests, ranges (one, or a few as `multipart/byteranges`), `HEAD`,
/// `PROPFIND` (depth 0 and 1) and `OPTIONS`.
/// The file comes from the site database's placement and the site's content library; no path is ever taken from the
/// request: a package id is a site code and five hex digits (`ObjectIDRule`) or the answer is 404.
public struct DistributionPointService: Sendable {
    public let host: String
    private let metrics: ContentMetrics
    let folders: SiteFolders
    let database: SiteDatabaseReader
    let limits: ServiceLimits
    /// Each package's open content as the site database last said: a request for a few bytes then costs no database
    /// read and no open. A download keeps the file it started with; a new version opens the new file after it.
    private let opened: SiteDatabaseCache<OpenContent?>

    /// The methods a package's folder and its member take (`Allow`, `OPTIONS`).
    static let methods = "OPTIONS, GET, HEAD, PROPFIND"

    public init(host: String, folders: SiteFolders, limits: ServiceLimits = ServiceLimits()) {
        self.host = host.lowercased()
        self.folders = folders
        self.limits = limits
        database = SiteDatabaseReader(folders: folders)
        opened = SiteDatabaseCache(folders: folders)
        metrics = ContentMetrics(host: self.host)
    }

    public func addRoutes(to router: Router<SiteRequestContext>) {
        // Hummingbird matches the path with or without its trailing slash.
        let folder = RouterPath("/SMS_DP_SMSPKG$/:package")
        let member = RouterPath("/SMS_DP_SMSPKG$/:package/content")
        for path in [folder, member] {
            router.get(path) { request, context in try await self.serve(request, context, body: true) }
            router.head(path) { request, context in try await self.serve(request, context, body: false) }
            router.on(path, method: .options) { _, _ in
                Response(status: .ok, headers: [.allow: Self.methods, Self.dav: "1", .contentLength: "0"])
            }
        }
        router.on(folder, method: Self.propfindMethod) { request, context in
            try await self.propfind(request, context, member: false)
        }
        router.on(member, method: Self.propfindMethod) { request, context in
            try await self.propfind(request, context, member: true)
        }
    }

    func serve(_ request: Request, _ context: SiteRequestContext, body: Bool) async throws -> Response {
        guard let content = try await content(context) else {
            metrics.request(.notFound)
            return Problems.response(.init(status: 404, title: "Not Found", detail: "no such package on \(host)"))
        }
        // A URL that names its version (as the management point gives them) means that version only: a client
        // resuming with a bare Range on a DP that holds another one gets 404, never another version's bytes.
        if let wanted = request.uri.queryParameters["version"], String(wanted) != content.version {
            metrics.request(.notFound)
            return Problems.response(
                .init(
                    status: 404,
                    title: "Not Found",
                    detail:
                        "\(host) holds another version of the package than \(UntrustedText.escape(String(wanted.prefix(80))))"
                )
            )
        }
        var headers = content.validators
        headers[.acceptRanges] = "bytes"
        headers[.cacheControl] = "no-transform"
        let headerFields = request.headers
        let conditions = RangeAnswer.Conditions(
            range: headerFields[.range],
            ifRange: headerFields[.ifRange],
            ifMatch: headerFields[.ifMatch],
            ifUnmodifiedSince: headerFields[.ifUnmodifiedSince] ?? headerFields[Self.unlessModifiedSince],
            ifNoneMatch: headerFields[.ifNoneMatch],
            ifModifiedSince: headerFields[.ifModifiedSince]
        )
        let answer = RangeAnswer.answer(
            conditions,
            size: content.size,
            etag: content.etag,
            lastModified: content.lastModified
        )
        let status: HTTPResponse.Status
        let parts: [ContentPart]
        switch answer {
        case .notModified:
            metrics.request(.notModified)
            return Response(status: .notModified, headers: content.validators)
        case .preconditionFailed:
            metrics.request(.preconditionFailed)
            var response = Problems.response(
                .init(
                    status: 412,
                    title: "Precondition Failed",
                    detail: "this distribution point holds version \(content.version) of the package"
                )
            )
            response.headers[.eTag] = content.etag
            return response
        case .unsatisfiable:
            metrics.request(.unsatisfiable)
            headers[.contentRange] = "bytes */\(content.size)"
            headers[.contentLength] = "0"
            return Response(status: .rangeNotSatisfiable, headers: headers, body: ResponseBody())
        case .whole:
            (status, parts) = (.ok, [ContentPart(range: 0...max(0, content.size - 1), prefix: nil)])
            headers[.contentType] = "application/octet-stream"
            metrics.request(.whole)
        case .part(let first, let last):
            (status, parts) = (.partialContent, [ContentPart(range: first...last, prefix: nil)])
            headers[.contentType] = "application/octet-stream"
            headers[.contentRange] = "bytes \(first)-\(last)/\(content.size)"
            metrics.request(.range)
        case .parts(let ranges):
            let boundary = "siteloc-" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
            headers[.contentType] = "multipart/byteranges; boundary=\(boundary)"
            parts =
                ranges.enumerated().map { index, range in
                    ContentPart(
                        range: range,
                        prefix: ByteBuffer(
                            string: (index == 0 ? "" : "\r\n")
                                + "--\(boundary)\r\nContent-Type: application/octet-stream\r\n"
                                + "Content-Range: bytes \(range.lowerBound)-\(range.upperBound)/\(content.size)\r\n\r\n"
                        )
                    )
                } + [ContentPart(range: nil, prefix: ByteBuffer(string: "\r\n--\(boundary)--\r\n"))]
            status = .partialContent
            metrics.request(.range)
        }
        let count = parts.reduce(Int64(0)) { $0 + $1.bytes(of: content.size) }
        headers[.contentLength] = String(count)
        guard body, count > 0 else { return Response(status: status, headers: headers, body: ResponseBody()) }
        guard let slot = DownloadSlot.take(limit: limits.concurrentDownloads) else {
            metrics.request(.busy)
            var response = Problems.response(
                .init(
                    status: 503,
                    title: "Service Unavailable",
                    detail: "\(host) serves \(limits.concurrentDownloads) downloads at once; try again shortly"
                )
            )
            response.headers[.retryAfter] = "5"
            return response
        }
        let file = content.file
        let metrics = metrics
        let sendTimeout = limits.sendTimeout
        return Response(
            status: status,
            headers: headers,
            body: ResponseBody(contentLength: Int(count)) { writer in
                let lane = ContentLane(sendTimeout: sendTimeout)
                for part in parts {
                    if let prefix = part.prefix { try await writer.write(prefix) }
                    guard let range = part.range else { continue }
                    var offset = range.lowerBound
                    let end = range.upperBound + 1
                    while offset < end {
                        let want = Int(min(Int64(ContentChunks.bytes), end - offset))
                        let chunk = try await lane.read(file, at: offset, count: want)
                        try await writer.write(chunk)
                        metrics.served(chunk.readableBytes)
                        offset += Int64(chunk.readableBytes)
                    }
                }
                withExtendedLifetime(slot) {}
                try await writer.finish(nil)
            }
        )
    }

    /// WebDAV's `PROPFIND` as Configuration Manager's client sends it (`Depth: 1` on the package's folder): 207 with
    /// the folder and its one member, whose size, `ETag` and dates are GET's. `Depth: infinity` (or none) is refused
    /// (RFC 4918 §9.1, `propfind-finite-depth`). The request body (which properties) is not read: every property is
    /// answered.
    func propfind(_ request: Request, _ context: SiteRequestContext, member: Bool) async throws -> Response {
        let depth = request.headers[Self.depth]?.trimmingASCIISpaces.lowercased() ?? "infinity"
        guard depth == "0" || depth == "1" else {
            return Response(
                status: .forbidden,
                headers: [.contentType: "application/xml; charset=utf-8"],
                body: ResponseBody(
                    byteBuffer: ByteBuffer(
                        string: #"<?xml version="1.0" encoding="utf-8"?>"#
                            + #"<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>"#
                    )
                )
            )
        }
        guard let package = context.parameters.get("package"), let content = try await content(context) else {
            metrics.request(.notFound)
            return Problems.response(.init(status: 404, title: "Not Found", detail: "no such package on \(host)"))
        }
        let folder = "/SMS_DP_SMSPKG$/\(package)/"
        var listing = WebDAVListing()
        if !member { listing.add(href: folder, name: package, collection: true, content: content) }
        if member || depth == "1" {
            listing.add(href: folder + "content", name: "content", collection: false, content: content)
        }
        return Response(
            status: .init(code: 207, reasonPhrase: "Multi-Status"),
            headers: [.contentType: "application/xml; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: listing.document))
        )
    }

    private func content(_ context: SiteRequestContext) async throws -> OpenContent? {
        guard let package = context.parameters.get("package"), ObjectIDRule.isValid(exactly: package) else {
            return nil
        }
        return try await opened.value(package) { try open(package) }.value
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
        return OpenContent(
            version: placement.version,
            size: handle.size,
            lastModified: Int64(placement.created.timeIntervalSince1970.rounded(.down)),
            file: handle
        )
    }

    static let propfindMethod = HTTPRequest.Method("PROPFIND")!
    static let depth = HTTPField.Name("Depth")!
    static let dav = HTTPField.Name("DAV")!
    /// WinINet's older spelling of `If-Unmodified-Since`, which BITS sends.
    static let unlessModifiedSince = HTTPField.Name("Unless-Modified-Since")!
}

/// A piece of a response body: text before it (a multipart boundary), then a range of the content.
struct ContentPart: Sendable {
    var range: ClosedRange<Int64>?
    var prefix: ByteBuffer?

    func bytes(of size: Int64) -> Int64 {
        Int64(prefix?.readableBytes ?? 0) + (size == 0 ? 0 : range.map { $0.upperBound - $0.lowerBound + 1 } ?? 0)
    }
}

/// A `207 Multi-Status` document for a package's folder and its member.
struct WebDAVListing {
    private var responses: [String] = []

    mutating func add(href: String, name: String, collection: Bool, content: OpenContent) {
        var properties = [
            "<D:displayname>\(name)</D:displayname>",
            "<D:creationdate>\(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(content.lastModified))))</D:creationdate>",
            "<D:getlastmodified>\(HTTPDate.format(content.lastModified))</D:getlastmodified>",
        ]
        if collection {
            properties.append("<D:resourcetype><D:collection/></D:resourcetype>")
        } else {
            properties += [
                "<D:resourcetype/>", "<D:getcontentlength>\(content.size)</D:getcontentlength>",
                "<D:getetag>\(content.etag)</D:getetag>",
                "<D:getcontenttype>application/octet-stream</D:getcontenttype>",
            ]
        }
        responses.append(
            "<D:response><D:href>\(href)</D:href><D:propstat><D:prop>\(properties.joined())</D:prop>"
                + "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        )
    }

    var document: String {
        #"<?xml version="1.0" encoding="utf-8"?>"# + "\n" + #"<D:multistatus xmlns:D="DAV:">"# + responses.joined()
            + "</D:multistatus>\n"
    }
}

struct OpenContent: Sendable {
    var version: String
    var size: Int64
    /// The version's creation time, whole seconds since 1970.
    var lastModified: Int64
    var file: ContentFile

    var etag: String { "\"\(version)\"" }

    /// The headers every DP holding this version sends alike: the validators and the digests (RFC 3230, RFC 9530).
    var validators: HTTPFields {
        var fields: HTTPFields = [.eTag: etag, .lastModified: HTTPDate.format(lastModified)]
        if let digest = sha256Base64 {
            fields[DistributionPointHeaders.digest] = "SHA-256=\(digest)"
            fields[DistributionPointHeaders.reprDigest] = "sha-256=:\(digest):"
        }
        return fields
    }

    /// The version is the content's SHA-256: its digest needs no second reading of the file.
    var sha256Base64: String? {
        let hex = Array(version.utf8.dropFirst("sha256:".count))
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: hex[index..<index + 2], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        return Data(bytes).base64EncodedString()
    }
}

enum DistributionPointHeaders {
    static let digest = HTTPField.Name("Digest")!
    static let reprDigest = HTTPField.Name("Repr-Digest")!
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

struct ContentFileError: KindedError {
    var kind: FailureKind { .internalError }
    var offset: Int64
    var description: String { "the content file ended or failed at byte \(offset)" }
}
