import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
public import SiteLocation
public import SiteModel

/// `siteloc client get` (docs/content-services.md, "The client"): policy from the default management point, the
/// location as `locate` finds it, the content location request over the network, the decision as `content` makes
/// it, then the download. Of the hierarchy it uses only what a client is installed with: its assigned site's code
/// and mode, its default management point's host name, and its forest's directory.
public struct ContentClient: Sendable {
    public var hierarchy: Hierarchy
    public var directory: @Sendable (ForestName) -> (any SiteDirectoryClient)?
    /// Where a site-system host's services answer.
    public var systemURLs: @Sendable (String) -> URL?
    public var state: ClientState
    /// Bounds connecting to a service and each of its answers.
    public var timeout: Duration
    public var maxRate: Int?
    /// A native-mode client's certificate and the authority it trusts (`siteloc client enroll`); nil for a
    /// mixed-mode client, which never holds one and so cannot use a native-mode site's HTTPS services.
    public var identity: TLSIdentity?
    public var logger: Logger

    public init(
        hierarchy: Hierarchy,
        directory: @escaping @Sendable (ForestName) -> (any SiteDirectoryClient)?,
        systemURLs: @escaping @Sendable (String) -> URL?,
        state: ClientState,
        timeout: Duration = .seconds(5),
        maxRate: Int? = nil,
        logger: Logger
    ) {
        self.hierarchy = hierarchy
        self.directory = directory
        self.systemURLs = systemURLs
        self.state = state
        self.timeout = timeout
        self.maxRate = maxRate
        self.logger = logger
    }

    public func get(
        _ client: ClientProfile,
        package: String,
        advertisement advertisementID: String?,
        progress: (@Sendable (Int64, Int64) -> Void)? = nil
    ) async throws(ClientError) -> ClientResult {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(
            connect: .nanoseconds(timeout.nanoseconds),
            read: .nanoseconds(timeout.nanoseconds)
        )
        configuration.redirectConfiguration = .disallow
        if let identity {
            do {
                configuration.tlsConfiguration = try Self.tlsConfiguration(identity)
            } catch {
                throw ClientError.state("the client's identity cannot be used: \(error)")
            }
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let result: Result<ClientResult, ClientError>
        do {
            result = .success(try await get(client, package, advertisementID, http: http, progress: progress))
        } catch {
            result = .failure(error)
        }
        try? await http.shutdown()
        return try result.get()
    }

    private func get(
        _ client: ClientProfile,
        _ package: String,
        _ advertisementID: String?,
        http: HTTPClient,
        progress: (@Sendable (Int64, Int64) -> Void)?
    ) async throws(ClientError) -> ClientResult {
        guard let assigned = hierarchy.site(client.assignedSite) else {
            throw ClientError.badInput("assigned site \(client.assignedSite) is not in the hierarchy")
        }
        let timeout = timeout
        let systemURLs = systemURLs
        @Sendable func managementPoint(_ host: String) -> ManagementPointClient? {
            systemURLs(host).map {
                ManagementPointClient(host: host, site: assigned.code, url: $0, http: http, timeout: timeout)
            }
        }
        // 1. Policy, from the default management point.
        var advertisement: Advertisement?
        if let advertisementID {
            guard let host = assigned.defaultManagementPointHost else {
                throw ClientError.noManagementPoint("site \(assigned.code) has no default management point")
            }
            guard let mp = managementPoint(host) else {
                throw ClientError.noManagementPoint("no management point answered: \(host) is not listening")
            }
            let policy: AdvertisementPolicy?
            do {
                policy = try await mp.advertisement(advertisementID)
            } catch {
                throw ClientError.noManagementPoint("no management point answered: \(host): \(error)")
            }
            guard let policy, let known = policy.advertisement else {
                throw ClientError.badInput(
                    "\(host) knows no advertisement \(advertisementID) for site \(assigned.code)"
                )
            }
            guard known.package == package else {
                throw ClientError.badInput(
                    "advertisement \(advertisementID) is for package \(known.package), not \(package)"
                )
            }
            advertisement = known
        }
        // 2–3. Location and the content location request, over the network.
        let locator = Locator(
            hierarchy: hierarchy,
            managementPoints: { host in managementPoint(host) },
            directory: directory
        )
        var content: ContentLocation
        do {
            content = try await locator.content(client, packageID: package, advertisement: advertisement)
        } catch {
            throw ClientError.badInput(error.description)
        }
        guard content.answeredBy != nil else {
            let asked = content.unansweredManagementPoints
            throw ClientError.noManagementPoint(
                "no management point answered"
                    + (asked.isEmpty ? "" : ": tried \(asked.joined(separator: ", "))")
            )
        }
        let native = identity != nil
        content.distributionPoints = content.distributionPoints.map { offer in
            var offer = offer
            if let url = offer.url, let refusal = OfferedURL.refusal(url, of: offer.host, native: native, systemURLs) {
                content.location.trace.append("\(offer.host): \(refusal); it is not fetched")
                offer.url = nil
            }
            return offer
        }
        var result = ClientResult(content: content, status: .unavailable)
        let version = content.distributionPoints.first?.version
        result.version = version
        switch ContentDecision(rawValue: content.decision) {
        case .wait:
            result.status = .waiting
            return result
        case .unavailable, nil:
            return result
        case .runFromLocalDP, .runFromRemoteDP:
            for offer in content.distributionPoints {
                guard let url = offer.url, await serves(url, version: offer.version, http: http) else { continue }
                result.status = .runFromDP
                result.path = url
                result.content.location.trace.append("\(offer.host) serves \(package): run it from \(url)")
                return result
            }
            result.status = .paused
            result.content.location.trace.append("no distribution point of the answer serves \(package) now")
            return result
        case .downloadLocal, .downloadRemote:
            break
        }
        guard let version else {
            result.status = .unavailable
            return result
        }
        if let cached = state.cached(package, version: version), FileManager.default.fileExists(atPath: cached.path) {
            result.status = .inCache
            result.path = cached.path
            result.content.location.trace.append("\(package) \(version.prefix(19))… is in the cache")
            return result
        }
        let downloader = ContentDownloader(
            http: http,
            state: state,
            maxRate: maxRate,
            progress: progress,
            timeout: timeout
        )
        var trace: [String] = []
        let (outcome, report) = try await downloader.download(
            package: package,
            version: version,
            from: content.distributionPoints,
            trace: &trace
        )
        result.content.location.trace += trace
        result.download = report
        switch outcome {
        case .complete(let file):
            result.status = .complete
            result.path = file.path
        case .paused:
            result.status = .paused
        case .corrupt:
            result.status = .corrupt
        }
        return result
    }

    /// Trusts the authority of the client's identity (and nothing else) and presents its certificate.
    static func tlsConfiguration(_ identity: TLSIdentity) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([
            try NIOSSLCertificate(bytes: Array(identity.authorityPEM.utf8), format: .pem)
        ])
        configuration.certificateChain = [
            .certificate(try NIOSSLCertificate(bytes: Array(identity.certificatePEM.utf8), format: .pem))
        ]
        configuration.privateKey = .privateKey(
            try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)
        )
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// Whether a distribution point answers HEAD for the content with the version's tag.
    private func serves(_ url: String, version: String?, http: HTTPClient) async -> Bool {
        var request = HTTPClientRequest(url: url)
        request.method = .HEAD
        guard let response = try? await http.execute(request, timeout: .nanoseconds(timeout.nanoseconds)),
            response.status == .ok
        else { return false }
        return version.map { response.headers.first(name: "ETag") == "\"\($0)\"" } ?? true
    }
}

/// Which URLs a client fetches content from (docs/hardening.md): `http` or `https` only, on the offered
/// distribution point's host or at the address recorded for it, and `https` only for a native-mode client. A
/// management point that names anything else — a local socket, another host, plain HTTP to a native client — is
/// not followed.
enum OfferedURL {
    /// Why `text` is refused for the offer of `host`; nil when it is fetched.
    static func refusal(
        _ text: String,
        of host: String,
        native: Bool,
        _ systemURLs: @Sendable (String) -> URL?
    ) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let target = url.host?.lowercased()
        else { return "the management point named a URL that is not one (\(text.prefix(120)))" }
        guard scheme == "http" || scheme == "https" else {
            return "the management point named a \(scheme.prefix(20)): URL; only http and https are fetched"
        }
        if native, scheme != "https" {
            return "the management point named plain HTTP; a native-mode client uses HTTPS only"
        }
        let recorded = systemURLs(host)
        let sameHost = target == host.lowercased()
        let sameAddress =
            recorded.map { $0.host?.lowercased() == target && ($0.port ?? -1) == (url.port ?? -1) } ?? false
        guard sameHost || sameAddress else {
            return "the management point named \(target.prefix(80)), which is neither \(host) nor its address"
        }
        return nil
    }
}

/// What `siteloc client get` did: the fields of `siteloc content` and the outcome.
public struct ClientResult: Sendable, Encodable {
    public enum Status: String, Sendable, Encodable {
        case complete
        case inCache = "in-cache"
        case runFromDP = "run-from-dp"
        case paused, waiting, unavailable, corrupt
    }

    public var content: ContentLocation
    public var status: Status
    public var version: String?
    public var path: String?
    public var download: DownloadReport?

    init(content: ContentLocation, status: Status) {
        self.content = content
        self.status = status
    }

    /// 0 for complete, in-cache and run-from-dp; 1 for the others (the state is kept).
    public var exitStatus: Int32 {
        switch status {
        case .complete, .inCache, .runFromDP: 0
        case .paused, .waiting, .unavailable, .corrupt: 1
        }
    }

    enum Keys: String, CodingKey { case status, version, path, download }

    public func encode(to encoder: any Encoder) throws {
        try content.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(status, forKey: .status)
        try container.encode(version, forKey: .version)
        try container.encode(path, forKey: .path)
        try container.encodeIfPresent(download, forKey: .download)
    }
}
