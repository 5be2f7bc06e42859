public import SiteModel

/// What the management point and distribution point services and the client say to each other over HTTP, as JSON
/// (docs/content-services.md; the OpenAPI document is `docs/openapi/management-point.yaml`).
public enum ContentService {
    /// The path of the content of a package on a distribution point (Configuration Manager's own share name).
    public static func contentPath(package: String) -> String { "/SMS_DP_SMSPKG$/\(package)/" }

    /// The same path pinned to one version (`?version=sha256:<hex>`): a DP holding another version answers 404, so
    /// a client that resumes with a bare `Range` (curl -C -, wget -c, aria2c) on another DP can never mix versions.
    public static func contentPath(package: String, version: String?) -> String {
        contentPath(package: package) + (version.map { "?version=\($0)" } ?? "")
    }

    public static let sitePath = "/siteloc/v1/site"
    public static let contentLocationPath = "/siteloc/v1/content-location"
    public static func advertisementPath(_ id: String) -> String { "/siteloc/v1/advertisements/\(id)" }

    /// The largest request body a management point reads.
    public static let maximumRequestBytes = 16 * 1024
}

/// A management point of the site, as the site identity lists it.
public struct ManagementPointEntry: Sendable, Codable, Hashable {
    public var host: String
    public var url: String?
    public var isDefault: Bool

    public init(host: String, url: String?, isDefault: Bool) {
        self.host = host
        self.url = url
        self.isDefault = isDefault
    }

    enum CodingKeys: String, CodingKey {
        case host, url
        case isDefault = "default"
    }
}

/// `GET /siteloc/v1/site`: who answers.
public struct SiteIdentity: Sendable, Codable, Hashable {
    public var site: String
    public var mode: String
    public var managementPoint: String
    public var managementPoints: [ManagementPointEntry]

    public init(site: String, mode: String, managementPoint: String, managementPoints: [ManagementPointEntry]) {
        self.site = site
        self.mode = mode
        self.managementPoint = managementPoint
        self.managementPoints = managementPoints
    }
}

/// `GET /siteloc/v1/advertisements/{id}`: the client policy of an advertisement.
public struct AdvertisementPolicy: Sendable, Codable, Hashable {
    public var id: String
    public var package: String
    public var fastBoundary: String
    public var slowBoundary: String
    public var allowFallbackToUnprotected: Bool

    public init(_ advertisement: Advertisement) {
        id = advertisement.id
        package = advertisement.package
        fastBoundary = advertisement.fastBoundary.rawValue
        slowBoundary = advertisement.slowBoundary.rawValue
        allowFallbackToUnprotected = advertisement.allowFallbackToUnprotected
    }

    /// The advertisement the policy describes; nil when a field is not one of its values.
    public var advertisement: Advertisement? {
        guard let fast = Advertisement.FastAction(rawValue: fastBoundary),
            let slow = Advertisement.SlowAction(rawValue: slowBoundary)
        else { return nil }
        return Advertisement(
            id: id,
            package: package,
            fastBoundary: fast,
            slowBoundary: slow,
            allowFallbackToUnprotected: allowFallbackToUnprotected
        )
    }
}

/// `POST /siteloc/v1/content-location`: a content location request.
public struct ContentLocationRequest: Sendable, Codable, Hashable {
    public var package: String
    /// The client's address with its prefix length, `10.1.2.3/24` or `2001:db8::5/64`.
    public var address: String
    public var adSite: String?
    /// `mixed` or `native`: the mode of the client's assigned site.
    public var clientMode: String
    public var allowHTTPRoaming: Bool?
    public var allowFallbackToUnprotected: Bool?

    public init(_ request: ContentRequest) {
        package = request.package
        address = request.address.description
        adSite = request.adSite
        clientMode = request.clientMode.rawValue
        allowHTTPRoaming = request.allowHTTPRoaming
        allowFallbackToUnprotected = request.allowFallbackToUnprotected
    }
}

/// The answer to a content location request.
public struct ContentLocationResponse: Sendable, Codable, Hashable {
    public var site: String
    public var managementPoint: String
    public var package: String
    /// The version this site knows as current; nil when it knows none.
    public var version: String?
    public var distributionPoints: [DistributionPointOffer]
    public var trace: [String]

    public init(
        site: String,
        managementPoint: String,
        package: String,
        version: String?,
        distributionPoints: [DistributionPointOffer],
        trace: [String]
    ) {
        self.site = site
        self.managementPoint = managementPoint
        self.package = package
        self.version = version
        self.distributionPoints = distributionPoints
        self.trace = trace
    }
}

/// An error answer (RFC 9457 `application/problem+json`): what is wrong and, for a bad request, which field.
public struct ServiceProblem: Sendable, Codable, Hashable, KindedError {
    /// A service's refusal, as its client meets it: the service could not be used for this.
    public var kind: FailureKind { .serviceUnavailable }
    public var status: Int
    public var title: String
    public var detail: String
    public var field: String?

    public init(status: Int, title: String, detail: String, field: String? = nil) {
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
    }

    public var description: String { "\(status) \(title): \(detail)" }
}
