public import Foundation
public import SiteModel
import SystemCalls
import SystemCrypto

/// A site's public signing key, as published in `serviceBindingInformation` (`ed25519:<base64>`) and exchanged in
/// key files.
public struct SitePublicKey: Sendable, Equatable, CustomStringConvertible {
    public static let prefix = "ed25519:"

    let key: Ed25519.PublicKey

    init(_ key: Ed25519.PublicKey) { self.key = key }

    /// Reads the published form; nil for anything else (other values of `serviceBindingInformation` are not keys).
    public init?(published text: String) {
        guard text.hasPrefix(Self.prefix), let raw = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))),
            let key = Ed25519.PublicKey(rawRepresentation: raw)
        else { return nil }
        self.key = key
    }

    public var published: String { Self.prefix + key.rawRepresentation.base64EncodedString() }
    public var description: String { published }

    /// The first 16 hex digits of the key's SHA-256, for people comparing keys over the phone.
    public var fingerprint: String {
        String(SHA256.hash(data: key.rawRepresentation).hex.prefix(16))
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.key.rawRepresentation == rhs.key.rawRepresentation }

    func isValidSignature(_ signature: Data, for message: Data) -> Bool {
        key.isValidSignature(signature, for: message)
    }
}

/// A site's private signing key. It lives in one file readable only by its owner and never prints.
public struct SiteSigningKey: Sendable, CustomStringConvertible {
    let key: Ed25519.PrivateKey

    public init() { key = Ed25519.PrivateKey() }

    public var publicKey: SitePublicKey { SitePublicKey(key.publicKey) }
    public var description: String { "<signing key \(publicKey.fingerprint)>" }

    func signature(for message: Data) throws -> Data { try key.signature(for: message) }

    /// Reads the key file, refusing one that others can read.
    public init(contentsOf file: URL) throws(SiteServerError) {
        switch OwnerOnlyFile.refusal(file.path) {
        case nil: break
        case .missing:
            throw SiteServerError("no signing key at \(file.path); create one with: siteloc site init --site CODE")
        case let refusal?:
            throw SiteServerError(OwnerOnlyFile.describe(refusal, "the signing key \(file.path)", path: file.path))
        }
        let data = try RegularFile.read(file, limit: 4096)
        guard
            let raw = Data(
                base64Encoded: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            ),
            let key = try? Ed25519.PrivateKey(rawRepresentation: raw)
        else {
            throw SiteServerError("the signing key \(file.path) is damaged; expected one base64 Ed25519 private key")
        }
        self.key = key
    }

    /// Writes the key to a new file created with mode 600; an existing key is never replaced.
    func write(to file: URL) throws(SiteServerError) {
        let text = key.rawRepresentation.base64EncodedString() + "\n"
        try SiteServerError.storing { try AtomicFile.create(file, contents: Data(text.utf8), mode: 0o600) }
    }
}

/// A public key file exchanged by hand between sites whose keys the directory cannot carry (another forest, or a
/// site that does not publish), like Configuration Manager's preinst /keyforparent and /keyforchild.
public struct SiteKeyFile: Codable, Sendable, Equatable {
    public var format = "siteloc-site-key"
    public var version = 1
    public var site: String
    public var forest: String
    public var publicKey: String
    public var fingerprint: String

    public init(site: SiteCode, forest: ForestName, key: SitePublicKey) {
        self.site = site.rawValue
        self.forest = forest.rawValue
        publicKey = key.published
        fingerprint = key.fingerprint
    }

    /// Reads and checks a key file: its format, site code and key.
    public static func read(
        _ file: URL
    ) throws(SiteServerError) -> (site: SiteCode, key: SitePublicKey, file: SiteKeyFile) {
        let expected = "expected a file written by: siteloc keys export --site CODE"
        guard let data = RegularFile.contents(of: file, limit: 64 * 1024) else {
            throw SiteServerError("cannot read the key file \(file.path); expected a regular file of at most 64 KiB")
        }
        guard let keyFile = try? JSONDecoder().decode(SiteKeyFile.self, from: data),
            keyFile.format == "siteloc-site-key"
        else { throw SiteServerError("\(file.path) is not a siteloc key file; \(expected)") }
        guard keyFile.version == 1 else {
            throw SiteServerError("\(file.path) has key file version \(keyFile.version); this siteloc reads version 1")
        }
        guard let site = try? SiteCode(keyFile.site) else {
            throw SiteServerError("\(file.path) names site '\(keyFile.site)', which is not a site code; \(expected)")
        }
        guard let key = SitePublicKey(published: keyFile.publicKey) else {
            throw SiteServerError("\(file.path) holds no valid Ed25519 public key; \(expected)")
        }
        return (site, key, keyFile)
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }
}
