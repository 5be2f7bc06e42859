public import Foundation
public import SiteModel
public import SiteRouting
import SystemCrypto

#if canImport(Glibc)
import Glibc
#endif

/// What a job says about itself. The signer signs these exact bytes; the payload is covered by its SHA-256.
///
/// Every field that comes from the outside is checked to its exact form when a header is read (site codes upper
/// case, ids of letters, digits and `-`, the digest as 64 hex digits), so none of them can carry a path, a line
/// break or a second spelling of a site into a file name, a log line or a comparison.
public struct JobHeader: Codable, Sendable, Equatable {
    /// A package's content, or a site's package status travelling up the hierarchy.
    public enum Kind: String, Codable, Sendable {
        case package
        case status
    }

    /// Unique for the whole hierarchy: the same job keeps its id on every hop, which is what makes applying and
    /// forwarding idempotent.
    public var id: String
    public var kind: Kind
    public var package: String
    /// The site that created the job and the site it is for.
    public var origin: SiteCode
    public var destination: SiteCode
    /// The site that signed this copy: the previous hop (each forwarding site re-signs).
    public var signer: SiteCode
    public var priority: JobPriority
    /// When the origin created this version of the content: a version never goes backwards (`stale`).
    public var created: Date
    public var payloadBytes: Int64
    /// The payload's SHA-256 (hex): for a package, its version.
    public var payloadSHA256: String
    /// The origin's Ed25519 signature (base64) over ``originStatement``; it travels unchanged to the destination.
    public var originSignature: String?
    /// Set by the site that handed this copy over, under its own signature: that it, or a site before it whose
    /// signature it verified, checked the origin's signature.
    public var originVerified: Bool

    public init(
        id: String,
        kind: Kind = .package,
        package: String,
        origin: SiteCode,
        destination: SiteCode,
        signer: SiteCode,
        priority: JobPriority,
        created: Date,
        payloadBytes: Int64,
        payloadSHA256: String
    ) {
        self.id = id
        self.kind = kind
        self.package = package
        self.origin = origin
        self.destination = destination
        self.signer = signer
        self.priority = priority
        self.created = Self.wholeMilliseconds(created)
        self.payloadBytes = payloadBytes
        self.payloadSHA256 = payloadSHA256
        originSignature = nil
        originVerified = false
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        kind = try container.decode(Kind.self, forKey: .kind)
        package = try container.decode(String.self, forKey: .package)
        origin = try container.decode(SiteCode.self, forKey: .origin)
        destination = try container.decode(SiteCode.self, forKey: .destination)
        signer = try container.decode(SiteCode.self, forKey: .signer)
        priority = try container.decode(JobPriority.self, forKey: .priority)
        created = try container.decode(Date.self, forKey: .created)
        payloadBytes = try container.decode(Int64.self, forKey: .payloadBytes)
        payloadSHA256 = try container.decode(String.self, forKey: .payloadSHA256)
        originSignature = try container.decodeIfPresent(String.self, forKey: .originSignature)
        originVerified = try container.decodeIfPresent(Bool.self, forKey: .originVerified) ?? false
        let problems = [
            Self.isSafeID(id) ? nil : "id (letters, digits and -, at most 64)",
            ObjectIDRule.isValid(exactly: package) ? nil : "package (\(ObjectIDRule.expected))",
            payloadBytes >= 0 ? nil : "payloadBytes (not negative)",
            Self.isHexDigest(payloadSHA256) ? nil : "payloadSHA256 (64 hex digits, lower case)",
        ].compactMap { $0 }
        if let first = problems.first {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not of the form \(first)"))
        }
    }

    /// A job id: the package, the destination and 12 random hex digits.
    public static func newID(package: String, destination: SiteCode) -> String {
        "\(package)-\(destination)-\(randomSuffix())"
    }

    /// 12 random hex digits: what makes a job id unique.
    static func randomSuffix() -> String {
        (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// Job ids go into file names, so only letters, digits and `-` are accepted from the outside.
    static func isSafeID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy { $0 == UInt8(ascii: "-") || ASCII.isLetterOrDigit($0) }
    }

    static func isHexDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy(ASCII.isLowerHex)
    }

    /// What the origin signs: the fields that say what the job is, and the payload's digest. The forwarding
    /// fields (signer, priority, originVerified) are left out, so the statement is the same on every hop.
    public var originStatement: Data {
        let fields = [
            "siteloc-origin 1", id, kind.rawValue, package, origin.rawValue, destination.rawValue,
            String(Self.milliseconds(created)), String(payloadBytes), payloadSHA256,
        ]
        return Data(fields.joined(separator: "\n").utf8)
    }

    /// Signs the header as its origin.
    public mutating func signAsOrigin(with key: SiteSigningKey) throws(SiteServerError) {
        guard let signature = try? key.signature(for: originStatement) else {
            throw SiteServerError("cannot sign job \(id) as its origin", kind: .internalError)
        }
        originSignature = signature.base64EncodedString()
    }

    /// Whether the origin signature is the origin's, given its key.
    func hasValidOriginSignature(_ key: SitePublicKey) -> Bool {
        guard let text = originSignature, let signature = Data(base64Encoded: text) else { return false }
        return key.isValidSignature(signature, for: originStatement)
    }

    /// Dates travel as ISO 8601 to the millisecond; the origin signs the whole milliseconds, so the creation time is
    /// kept at whole milliseconds from the start.
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    static func wholeMilliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds(date)) / 1000)
    }
}
