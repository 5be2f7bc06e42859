import Crypto
public import Foundation
public import SiteModel
public import SiteRouting

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
            throw SiteServerError("cannot sign job \(id) as its origin")
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

/// A job file: three text lines and the payload.
///
///     siteloc-job 2
///     {"created":…,"id":…}            the header, JSON on one line
///     <base64 Ed25519 signature of the two lines above, or "-" when unsigned>
///     <payload bytes to the end of the file>
///
/// `head -3` shows what a job is; the payload streams, so a 200 MB package never has to fit in memory.
public struct JobFile: Sendable {
    static let magic = "siteloc-job 2"
    public static let suffix = "job"

    public var header: JobHeader
    /// The signed bytes (the first two lines) and the signature, as found in the file.
    let signedBytes: Data
    let signature: Data?
    /// Where the payload starts in the file.
    let payloadOffset: UInt64
    public let url: URL

    /// Reads the three lines of a job file. A file that is not a job is `malformed`.
    public static func read(_ url: URL) throws(JobRejection) -> JobFile {
        let handle: FileHandle
        do {
            handle = try RegularFile.openForReading(url)
        } catch {
            throw JobRejection(.malformed, "is not a job file one can read: \(error)")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: headLimit)) ?? Data()
        let parsed = try parse(head: head)
        return JobFile(
            header: parsed.header,
            signedBytes: parsed.signedBytes,
            signature: parsed.signature,
            payloadOffset: parsed.payloadOffset,
            url: url
        )
    }

    /// The three lines of a job must fit in this many bytes.
    static let headLimit = 64 * 1024

    /// The job's lines from the first bytes of its file: the header, the signed bytes, the signature and where the
    /// payload starts. Public for the fuzzer, which feeds it any bytes at all.
    public static func parse(
        head: Data
    ) throws(JobRejection) -> (header: JobHeader, signedBytes: Data, signature: Data?, payloadOffset: UInt64) {
        var lines: [Data] = []
        var start = head.startIndex
        while lines.count < 3, let newline = head[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(head[start..<newline])
            start = newline + 1
        }
        guard lines.count == 3, String(decoding: lines[0], as: UTF8.self) == magic else {
            throw JobRejection(.malformed, "is not a siteloc job (expected '\(magic)' and a header on the first lines)")
        }
        let header: JobHeader
        do {
            header = try RecordCoding.decoder().decode(JobHeader.self, from: lines[1])
        } catch {
            throw JobRejection(.malformed, "has a header that cannot be read: \(Self.summary(of: error))")
        }
        let signatureLine = String(decoding: lines[2], as: UTF8.self)
        let signature: Data?
        if signatureLine == "-" {
            signature = nil
        } else if let decoded = Data(base64Encoded: signatureLine) {
            signature = decoded
        } else {
            throw JobRejection(.malformed, "has a signature line that is not base64")
        }
        return (
            header, Data(head[head.startIndex..<(lines[1].endIndex + 1)]), signature, UInt64(start - head.startIndex)
        )
    }

    /// What was wrong with a header, short and without control characters: it goes into logs and reason files.
    static func summary(of error: any Error) -> String {
        let text: String
        switch error {
        case DecodingError.keyNotFound(let key, _): text = "the field \(key.stringValue) is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            text = "the field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case DecodingError.dataCorrupted(let context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            text = field.isEmpty ? context.debugDescription : "the field \(field) is not valid"
        case let error as SiteCodeError: text = "a site field is not a site code (\(error.reason))"
        default: text = "not JSON of a job header"
        }
        return String(
            text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) }.prefix(200)
        )
    }

    /// Writes a job to `url` (atomically: under a temporary name, then renamed), signed by `key` when given, with
    /// the payload copied from `payload` starting at `offset`.
    public static func write(
        _ header: JobHeader,
        payload: URL,
        payloadOffset offset: UInt64 = 0,
        signedBy key: SiteSigningKey?,
        to url: URL
    ) throws(SiteServerError) {
        try write(header, signedBy: key, to: url) { output in _ = try stream(payload, from: offset, into: output) }
    }

    /// Writes a job whose payload is in memory (a package status: a few hundred bytes).
    public static func write(
        _ header: JobHeader,
        payload: Data,
        signedBy key: SiteSigningKey?,
        to url: URL
    ) throws(SiteServerError) {
        try write(header, signedBy: key, to: url) { output in try output.write(contentsOf: payload) }
    }

    /// The SHA-256 (hex) and size of bytes in memory.
    public static func digest(of data: Data) -> (String, Int64) {
        (hex(SHA256.hash(data: data)), Int64(data.count))
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The lines before the payload: magic, header, signature (`-` unsigned).
    static func encodedHeader(_ header: JobHeader, signedBy key: SiteSigningKey?) throws(SiteServerError) -> Data {
        guard let json = try? RecordCoding.encoder().encode(header) else {
            throw SiteServerError("cannot encode job \(header.id)")
        }
        let signed = Data((magic + "\n").utf8) + json + Data("\n".utf8)
        let signatureLine: String
        if let key {
            guard let signature = try? key.signature(for: signed) else {
                throw SiteServerError("cannot sign job \(header.id)")
            }
            signatureLine = signature.base64EncodedString()
        } else {
            signatureLine = "-"
        }
        return signed + Data((signatureLine + "\n").utf8)
    }

    private static func write(
        _ header: JobHeader,
        signedBy key: SiteSigningKey?,
        to url: URL,
        payload writePayload: (FileHandle) throws -> Void
    ) throws(SiteServerError) {
        let encoded = try encodedHeader(header, signedBy: key)
        let temporary = AtomicFile.temporary(for: url)
        do {
            let output = try RegularFile.createForWriting(temporary)
            defer { try? output.close() }
            try output.write(contentsOf: encoded)
            try writePayload(output)
            try output.synchronize()
        } catch let error as SiteServerError {
            unlink(temporary.path)
            throw error
        } catch {
            unlink(temporary.path)
            throw SiteServerError("cannot write job \(header.id) to \(url.path): \(error)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw SiteServerError("cannot write job \(header.id) to \(url.path): \(reason)")
        }
    }

    /// The SHA-256 (hex) and size of a file's bytes from `offset` on, read in blocks.
    public static func digest(of url: URL, from offset: UInt64 = 0) throws(SiteServerError) -> (String, Int64) {
        try stream(url, from: offset, into: nil)
    }

    /// Reads a file from `offset` to its end in blocks, writing them to `output` when given, and returns the
    /// SHA-256 (hex) and size of what it read: copying and hashing in one pass.
    static func stream(
        _ url: URL,
        from offset: UInt64 = 0,
        into output: FileHandle?
    ) throws(SiteServerError) -> (String, Int64) {
        let input = try RegularFile.openForReading(url)
        defer { try? input.close() }
        do {
            try input.seek(toOffset: offset)
            var hash = SHA256()
            var count: Int64 = 0
            while let block = try input.read(upToCount: 1 << 20), !block.isEmpty {
                hash.update(data: block)
                try output?.write(contentsOf: block)
                count += Int64(block.count)
            }
            return (hex(hash.finalize()), count)
        } catch {
            throw SiteServerError("cannot copy \(url.path): \(error)")
        }
    }

    /// Checks the signature against the signer's key and the payload against the header.
    func verify(with key: SitePublicKey) throws(JobRejection) {
        guard let signature else { throw JobRejection(.unsigned, "is not signed") }
        guard key.isValidSignature(signature, for: signedBytes) else {
            throw JobRejection(
                .badSignature,
                "has a signature that \(header.signer)'s key (\(key.fingerprint)) does not verify: signed by another"
                    + " key, or its header was changed after signing"
            )
        }
        try verifyPayload()
    }

    func verifyPayload() throws(JobRejection) {
        guard let (digest, count) = try? Self.digest(of: url, from: payloadOffset) else {
            throw JobRejection(.malformed, "cannot be read to its end")
        }
        guard count == header.payloadBytes, digest == header.payloadSHA256 else {
            throw JobRejection(
                .altered,
                "has a payload that does not match its signed header (\(count) bytes, SHA-256 \(digest.prefix(12))…;"
                    + " signed: \(header.payloadBytes) bytes, \(header.payloadSHA256.prefix(12))…): altered after signing"
            )
        }
    }
}

/// Why a site server refused a job. Refused jobs are kept aside with this, never applied or forwarded.
public struct JobRejection: Error, Sendable, Codable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case malformed
        case unsigned
        case unknownKey = "unknown-key"
        case badSignature = "bad-signature"
        case altered
        case notNeighbour = "not-neighbour"
        case unknownDestination = "unknown-destination"
        case unknownPackage = "unknown-package"
        case badOrigin = "bad-origin"
        case stale
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): the job \(message)" }
}
