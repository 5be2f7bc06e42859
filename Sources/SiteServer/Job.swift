import Crypto
public import Foundation
public import SiteModel
public import SiteRouting

#if canImport(Glibc)
import Glibc
#endif

/// What a job says about itself. The signer signs these exact bytes; the payload is covered by its SHA-256.
public struct JobHeader: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case package }

    /// Unique for the whole hierarchy: the same job keeps its id on every hop, which is what makes applying and
    /// forwarding idempotent.
    public var id: String
    public var kind: Kind
    public var package: String
    /// The site that created the job and the site it is for.
    public var origin: String
    public var destination: String
    /// The site that signed this copy: the previous hop (each forwarding site re-signs).
    public var signer: String
    public var priority: JobPriority
    public var created: Date
    public var payloadBytes: Int64
    public var payloadSHA256: String

    public init(
        id: String,
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
        kind = .package
        self.package = package
        self.origin = origin.rawValue
        self.destination = destination.rawValue
        self.signer = signer.rawValue
        self.priority = priority
        self.created = created
        self.payloadBytes = payloadBytes
        self.payloadSHA256 = payloadSHA256
    }

    /// A job id: the package, the destination and 12 random hex digits.
    public static func newID(package: String, destination: SiteCode) -> String {
        let random = (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return "\(package)-\(destination)-\(random)"
    }

    /// Job ids go into file names, so only letters, digits and `-` are accepted from the outside.
    var hasSafeID: Bool {
        !id.isEmpty && id.count <= 64
            && id.utf8.allSatisfy {
                $0 == UInt8(ascii: "-") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0)
            }
    }
}

/// A job file: three text lines and the payload.
///
///     siteloc-job 1
///     {"created":…,"id":…}            the header, JSON on one line
///     <base64 Ed25519 signature of the two lines above, or "-" when unsigned>
///     <payload bytes to the end of the file>
///
/// `head -3` shows what a job is; the payload streams, so a 200 MB package never has to fit in memory.
public struct JobFile: Sendable {
    static let magic = "siteloc-job 1"
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
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw JobRejection(.malformed, "cannot be read")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 64 * 1024)) ?? Data()
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
            throw JobRejection(.malformed, "has a header that cannot be read: \(error)")
        }
        guard header.hasSafeID else {
            throw JobRejection(.malformed, "has an id with characters other than A-Z, 0-9, -")
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
        return JobFile(
            header: header,
            signedBytes: Data(head[head.startIndex..<(lines[1].endIndex + 1)]),
            signature: signature,
            payloadOffset: UInt64(start - head.startIndex),
            url: url
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
        let temporary = AtomicFile.temporary(for: url)
        do {
            guard
                FileManager.default.createFile(
                    atPath: temporary.path,
                    contents: signed + Data((signatureLine + "\n").utf8)
                )
            else { throw SiteServerError("cannot write \(temporary.path)") }
            let output = try FileHandle(forWritingTo: temporary)
            defer { try? output.close() }
            try output.seekToEnd()
            _ = try stream(payload, from: offset, into: output)
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
        do {
            let input = try FileHandle(forReadingFrom: url)
            defer { try? input.close() }
            try input.seek(toOffset: offset)
            var hash = SHA256()
            var count: Int64 = 0
            while let block = try input.read(upToCount: 1 << 20), !block.isEmpty {
                hash.update(data: block)
                try output?.write(contentsOf: block)
                count += Int64(block.count)
            }
            return (hash.finalize().map { String(format: "%02x", $0) }.joined(), count)
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
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): the job \(message)" }
}
