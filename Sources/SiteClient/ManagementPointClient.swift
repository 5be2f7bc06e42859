public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
public import SiteLocation
public import SiteModel

/// A management point over HTTP, as a client talks to it: the site identity, advertisement policy, and content
/// location requests. Every request is bounded by `timeout` (connect, and the whole answer).
public struct ManagementPointClient: ManagementPoint {
    public let host: String
    public let site: SiteCode
    public let url: URL
    let http: HTTPClient
    let timeout: Duration

    public init(host: String, site: SiteCode, url: URL, http: HTTPClient, timeout: Duration) {
        self.host = host
        self.site = site
        self.url = url
        self.http = http
        self.timeout = timeout
    }

    public func locateContent(_ request: ContentRequest) async throws -> ContentAnswer {
        let answer = try await contentLocation(request)
        return ContentAnswer(distributionPoints: answer.distributionPoints, trace: answer.trace)
    }

    public func contentLocation(_ request: ContentRequest) async throws -> ContentLocationResponse {
        var message = HTTPClientRequest(url: url.absoluteString + ContentService.contentLocationPath)
        message.method = .POST
        message.headers.add(name: "Content-Type", value: "application/json")
        message.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(ContentLocationRequest(request))))
        return try await exchange(message, as: ContentLocationResponse.self)
    }

    public func identity() async throws -> SiteIdentity {
        try await exchange(HTTPClientRequest(url: url.absoluteString + ContentService.sitePath), as: SiteIdentity.self)
    }

    /// An advertisement's policy; nil when this management point does not know it (404).
    public func advertisement(_ id: String) async throws -> AdvertisementPolicy? {
        do {
            return try await exchange(
                HTTPClientRequest(url: url.absoluteString + ContentService.advertisementPath(id)),
                as: AdvertisementPolicy.self
            )
        } catch let problem as ServiceProblem where problem.status == 404 {
            return nil
        }
    }

    private func exchange<T: Decodable>(_ request: HTTPClientRequest, as type: T.Type) async throws -> T {
        let response = try await http.execute(request, timeout: .nanoseconds(Int64(timeout.nanoseconds)))
        let body = try await response.body.collect(upTo: 4 << 20)
        guard response.status == .ok else {
            if let problem = try? JSONDecoder().decode(ServiceProblem.self, from: Data(body.readableBytesView)) {
                throw problem
            }
            throw ServiceProblem(
                status: Int(response.status.code),
                title: response.status.reasonPhrase,
                detail: "\(host) answered \(response.status.code)"
            )
        }
        return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
