public import Foundation
import SiteModel
import SiteRouting
import SystemCalls
import SystemCrypto

#if canImport(Glibc)
import Glibc
#endif

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
        (SHA256.hash(data: data).hex, Int64(data.count))
    }

    /// The lines before the payload: magic, header, signature (`-` unsigned).
    static func encodedHeader(_ header: JobHeader, signedBy key: SiteSigningKey?) throws(SiteServerError) -> Data {
        guard let json = try? RecordCoding.encoder().encode(header) else {
            throw SiteServerError("cannot encode job \(header.id)", kind: .internalError)
        }
        let signed = Data((magic + "\n").utf8) + json + Data("\n".utf8)
        let signatureLine: String
        if let key {
            guard let signature = try? key.signature(for: signed) else {
                throw SiteServerError("cannot sign job \(header.id)", kind: .internalError)
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
            throw SiteServerError("cannot write job \(header.id) to \(url.path): \(error)", kind: .internalError)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw SiteServerError("cannot write job \(header.id) to \(url.path): \(reason)", kind: .internalError)
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
            return (hash.finalize().hex, count)
        } catch {
            throw SiteServerError("cannot copy \(url.path): \(error)", kind: .internalError)
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
