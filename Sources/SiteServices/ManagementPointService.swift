import BlockingWork
import Foundation
import HTTPTypes
public import Hummingbird
import NIOCore
import SiteLocation
public import SiteModel
public import SiteServer
import Synchronization

/// A management point (docs/content-services.md) answering for its site from the site's database only: the site's
/// identity (also as Configuration Manager's `/SMS_MP/.sms_aut?MPLIST`), advertisement policy, and content location
/// requests by the rules of docs/roaming-and-content.md, step 3.
public struct ManagementPointService: Sendable {
    public let host: String
    private let metrics: LocationMetrics
    public let site: Site
    let hierarchy: Hierarchy
    /// Each package's current version and holders, as the site database last said.
    let knowledge: SiteDatabaseCache<(version: String?, holders: Set<String>)>
    let database: SiteDatabaseReader
    let systemURLs: SystemURLs
    /// The site's sites and boundaries, indexed once for every request.
    let point: SiteDatabaseManagementPoint
    let answers = AnswerCache()

    public init(host: String, site: Site, hierarchy: Hierarchy, folders: SiteFolders, systemURLs: @escaping SystemURLs)
    {
        self.host = host.lowercased()
        self.site = site
        self.hierarchy = hierarchy
        knowledge = SiteDatabaseCache(folders: folders)
        database = SiteDatabaseReader(folders: folders)
        self.systemURLs = systemURLs
        point = SiteDatabaseManagementPoint(site: site.code, host: host.lowercased(), hierarchy: hierarchy)
        metrics = LocationMetrics(host: self.host)
    }

    public func addRoutes(to router: Router<SiteRequestContext>) {
        router.get("/SMS_MP/.sms_aut") { request, _ in self.mpList(request) }
        router.get(RouterPath(ContentService.sitePath)) { _, _ in JSONAnswer.response(self.identity) }
        router.get("/siteloc/v1/advertisements/:id") { _, context in
            self.advertisement(context.parameters.get("id") ?? "")
        }
        router.post(RouterPath(ContentService.contentLocationPath)) { request, context in
            let response = try await self.contentLocation(request, context)
            self.metrics.record(response.status)
            return response
        }
    }

    /// The version a Configuration Manager 2007 SP2 management point reports.
    static let productVersion = "4.00.6487.2000"

    var identity: SiteIdentity {
        let defaultHost = site.defaultManagementPointHost
        return SiteIdentity(
            site: site.code.rawValue,
            mode: hierarchy.mode(of: site).rawValue,
            managementPoint: host,
            managementPoints: site.managementPoints.map {
                ManagementPointEntry(
                    host: $0.host,
                    url: systemURLs($0.host)?.absoluteString,
                    isDefault: $0.host == defaultHost
                )
            }
        )
    }

    /// `GET /SMS_MP/.sms_aut?MPLIST`, the reachability check of Configuration Manager's documentation.
    func mpList(_ request: Request) -> Response {
        guard request.uri.query == "MPLIST" else {
            return Problems.notFound("only ?MPLIST is served here")
        }
        let entries = site.managementPoints.map { system in
            let name = ASCII.uppercased(String(system.host.split(separator: ".").first ?? ""))
            return "<MP Name=\"\(HTML.escape(name))\" FQDN=\"\(HTML.escape(system.host))\">"
                + "<Version>\(Self.productVersion)</Version></MP>"
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/xml"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: "<MPList>" + entries.joined() + "</MPList>"))
        )
    }

    /// An advertisement's policy, served when it was created at this site or a site above (its id begins with that
    /// site's code): a client is never told of another branch's advertisements.
    func advertisement(_ id: String) -> Response {
        guard id.utf8.count == 8, let advertisement = hierarchy.advertisements.first(where: { $0.id == id }),
            let creator = try? SiteCode(exactly: String(id.prefix(3))),
            creator == site.code || hierarchy.isInSubtree(site.code, of: creator)
        else {
            return Problems.notFound("no advertisement \(id.prefix(64)) for site \(site.code)")
        }
        return JSONAnswer.response(AdvertisementPolicy(advertisement))
    }

    func contentLocation(_ request: Request, _ context: SiteRequestContext) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            return Problems.response(
                ServiceProblem(
                    status: 413,
                    title: "Content Too Large",
                    detail: "a content location request is at most \(context.maxUploadSize) bytes"
                )
            )
        } catch {
            // A body that breaks off or is framed wrongly is the client's fault, not its size.
            return Problems.badRequest("the request body could not be read whole: expected one JSON object", field: nil)
        }
        let message: ContentLocationRequest
        do {
            message = try JSONDecoder().decode(ContentLocationRequest.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            let (field, detail) = Self.explain(error)
            return Problems.badRequest(detail, field: field)
        }
        let parsed: ContentRequest
        switch Self.validate(message) {
        case .success(let request): parsed = request
        case .failure(let problem): return Problems.response(problem)
        }
        guard let package = hierarchy.package(parsed.package) else {
            return Problems.notFound("package \(parsed.package) is not known to this site")
        }
        let database = database
        let (current, generation) = try await knowledge.value(package.id) {
            () -> (version: String?, holders: Set<String>) in
            guard let opened = database.get() else { return (nil, []) }
            return SiteContentKnowledge.current(package.id, in: opened)
        }
        let selection = point.boundary(of: parsed)
        // Clients in one boundary asking for one package get the same answer: it is encoded once and kept while
        // the database's files are unchanged and the distribution points it names listen where it says.
        let key = AnswerKey(
            package: package.id,
            boundary: selection,
            clientMode: parsed.clientMode,
            allowHTTPRoaming: parsed.allowHTTPRoaming,
            allowFallbackToUnprotected: parsed.allowFallbackToUnprotected
        )
        if let generation, let kept = answers.get(key, generation: generation, systemURLs: systemURLs) {
            return JSONAnswer.response(encoded: kept)
        }
        let answer = point.locateContent(parsed, in: selection, holding: current.holders)
        var urls: [String: URL?] = [:]
        let offers = answer.distributionPoints.map { offer in
            var offer = offer
            offer.version = current.version
            let url = systemURLs(offer.host)
            urls[offer.host] = url
            offer.url = url.map {
                $0.absoluteString + ContentService.contentPath(package: package.id, version: current.version)
            }
            return offer
        }
        let encoded = JSONAnswer.encode(
            ContentLocationResponse(
                site: site.code.rawValue,
                managementPoint: host,
                package: package.id,
                version: current.version,
                distributionPoints: offers,
                trace: answer.trace
            )
        )
        if let generation { answers.set(key, generation: generation, urls: urls, body: encoded) }
        return JSONAnswer.response(encoded: encoded)
    }

    /// The request's fields read to their exact forms, or the problem naming the first that is not.
    static func validate(_ message: ContentLocationRequest) -> Result<ContentRequest, ServiceProblem> {
        func bad(_ field: String, _ detail: String) -> Result<ContentRequest, ServiceProblem> {
            .failure(ServiceProblem(status: 400, title: "Bad Request", detail: detail, field: field))
        }
        guard ObjectIDRule.isValid(exactly: message.package) else {
            return bad("package", "package must be \(ObjectIDRule.expected)")
        }
        guard message.address.utf8.count <= 64, let address = try? ClientAddress(message.address) else {
            return bad("address", "address must be ADDRESS/LEN, such as 10.20.1.5/24 or 2001:db8:10::5/64")
        }
        guard let mode = SiteMode(rawValue: message.clientMode) else {
            return bad("clientMode", "clientMode must be mixed or native")
        }
        if let adSite = message.adSite,
            adSite.isEmpty || adSite.utf8.count > 64 || adSite.unicodeScalars.contains(where: { $0.value < 0x20 })
        {
            return bad("adSite", "adSite must be an Active Directory site name of 1 to 64 printable characters")
        }
        return .success(
            ContentRequest(
                package: message.package,
                address: address,
                adSite: message.adSite,
                clientMode: mode,
                allowHTTPRoaming: message.allowHTTPRoaming ?? false,
                allowFallbackToUnprotected: message.allowFallbackToUnprotected ?? false
            )
        )
    }

    /// The field a decoding error is about, and what was expected.
    static func explain(_ error: DecodingError) -> (field: String?, detail: String) {
        func name(_ path: [any CodingKey]) -> String? {
            path.isEmpty ? nil : path.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = name(context.codingPath + [key]) ?? key.stringValue
            return (field, "the field \(field) is missing")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let field = name(context.codingPath)
            return (field, "the field \(field ?? "body") has the wrong type")
        case .dataCorrupted(let context):
            return (name(context.codingPath), "the body is not a JSON content location request")
        @unknown default:
            return (nil, "the body is not a JSON content location request")
        }
    }
}

/// What a content location answer depends on besides the site database: the request with the client's address
/// replaced by the boundary it is in.
struct AnswerKey: Hashable, Sendable {
    var package: String
    var boundary: BoundarySelection?
    var clientMode: SiteMode
    var allowHTTPRoaming: Bool
    var allowFallbackToUnprotected: Bool
}

/// Encoded content location answers, each valid while the database's files are unchanged and the offered
/// distribution points are still where the answer says.
final class AnswerCache: Sendable {
    /// Beyond this many answers the cache starts over: a bound however many boundaries clients come from.
    static let capacity = 16_384

    private struct Entry {
        var generation: UInt64
        var urls: [String: URL?]
        var body: ByteBuffer
    }

    private let entries = Mutex<[AnswerKey: Entry]>([:])

    func get(_ key: AnswerKey, generation: UInt64, systemURLs: SystemURLs) -> ByteBuffer? {
        guard let entry = entries.withLock({ $0[key] }), entry.generation == generation,
            entry.urls.allSatisfy({ systemURLs($0.key) == $0.value })
        else { return nil }
        return entry.body
    }

    func set(_ key: AnswerKey, generation: UInt64, urls: [String: URL?], body: ByteBuffer) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(generation: generation, urls: urls, body: body)
        }
    }
}
