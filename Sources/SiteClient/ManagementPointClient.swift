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

    /// One request and its whole answer, body included, within `timeout` of its start: a management point that
    /// trickles its answer is cut off like one that never answers. Text from the answer is escaped before anyone
    /// prints it.
    private func exchange<T: Decodable & Sendable>(_ request: HTTPClientRequest, as type: T.Type) async throws -> T {
        let http = http
        let host = host
        let (status, reason, body) = try await withTimeLimit(timeout, doing: "\(host)'s answer") {
            let response = try await http.execute(request, timeout: .nanoseconds(Int64(timeout.nanoseconds)))
            let body = try await response.body.collect(upTo: 4 << 20)
            return (response.status.code, response.status.reasonPhrase, Data(body.readableBytesView))
        }
        guard status == 200 else {
            if let problem = try? JSONDecoder().decode(ServiceProblem.self, from: body) {
                throw ServiceProblem(
                    status: problem.status,
                    title: UntrustedText.escape(problem.title),
                    detail: UntrustedText.escape(problem.detail),
                    field: problem.field.map(UntrustedText.escape)
                )
            }
            throw ServiceProblem(
                status: Int(status),
                title: UntrustedText.escape(reason),
                detail: "\(host) answered \(status)"
            )
        }
        let decoded = try JSONDecoder().decode(T.self, from: body)
        guard var location = decoded as? ContentLocationResponse else { return decoded }
        location.trace = location.trace.map(UntrustedText.escape)
        location.distributionPoints = location.distributionPoints.map { offer in
            var offer = offer
            offer.host = UntrustedText.escape(offer.host)
            offer.site = UntrustedText.escape(offer.site)
            offer.version = offer.version.map(UntrustedText.escape)
            offer.url = offer.url.map(UntrustedText.escape)
            return offer
        }
        return location as? T ?? decoded
    }
}

/// Runs `operation`, cancelled and answered with ``TimeLimitExceeded`` when it has not ended within `limit`.
func withTimeLimit<T: Sendable>(
    _ limit: Duration,
    doing what: String,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeLimitExceeded(what: what, limit: limit)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}

/// An answer that did not end within its time limit.
struct TimeLimitExceeded: KindedError {
    var kind: FailureKind { .serviceUnavailable }
    var what: String
    var limit: Duration
    var description: String { "timeout: \(what) did not end within \(limit)" }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
