import BlockingWork
public import Foundation
public import SiteModel
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// A client's state folder (`--state`, default `.siteloc/client`): downloads in progress, each a record beside its
/// partial file, and the cache of complete, verified content.
///
///     downloads/<PKG>.json   package, version, size and bytes done: what a later run resumes from
///     downloads/<PKG>.part   the bytes done (never more than the record says once it was flushed)
///     cache/<PKG>/<hex>      complete content, its SHA-256 checked
///     identity/              a native-mode client's certificate (client.pem, client.key mode 600) and the
///                            authority it trusts (ca.pem), from `siteloc client enroll`
public struct ClientState: Sendable {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    var downloads: URL { folder.appendingPathComponent("downloads", isDirectory: true) }
    func record(_ package: String) -> URL { downloads.appendingPathComponent(package + ".json") }
    func partial(_ package: String) -> URL { downloads.appendingPathComponent(package + ".part") }

    /// Where a verified version of a package is kept. `version` is `sha256:<64 hex>`, checked before it names a file.
    public func cached(_ package: String, version: String) -> URL? {
        guard let hex = Self.hex(of: version) else { return nil }
        return folder.appendingPathComponent("cache/\(package)/\(hex)")
    }

    /// The hex digest of a version, or nil when it is not `sha256:` and 64 lower-case hex digits.
    static func hex(of version: String) -> String? {
        guard version.hasPrefix("sha256:") else { return nil }
        let hex = String(version.dropFirst("sha256:".count))
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            return nil
        }
        return hex
    }

    var identityFolder: URL { folder.appendingPathComponent("identity", isDirectory: true) }

    /// The client's certificate, key and trusted authority; nil when it has not been enrolled.
    public func identity() -> TLSIdentity? {
        let read = { (name: String) in
            try? String(contentsOf: identityFolder.appendingPathComponent(name), encoding: .utf8)
        }
        guard let certificate = read("client.pem"), let key = read("client.key"), let authority = read("ca.pem") else {
            return nil
        }
        return TLSIdentity(certificatePEM: certificate, privateKeyPEM: key, authorityPEM: authority)
    }

    /// Keeps an identity: the private key created with mode 600 before any byte is written.
    public func store(_ identity: TLSIdentity) throws(ClientError) {
        do {
            try FileManager.default.createDirectory(at: identityFolder, withIntermediateDirectories: true)
            chmod(identityFolder.path, 0o700)
            for (name, text) in [
                ("client.key", identity.privateKeyPEM), ("client.pem", identity.certificatePEM),
                ("ca.pem", identity.authorityPEM),
            ] {
                try Self.replace(identityFolder.appendingPathComponent(name), with: Data(text.utf8), durable: true)
            }
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError.state("cannot keep the client's identity in \(identityFolder.path): \(error)")
        }
    }

    /// Writes `data` whole under a temporary name (mode 600, never through a symbolic link) and renames it over
    /// `target`: a kill leaves the old file or the new one. `durable` also flushes it to disk before the rename.
    static func replace(_ target: URL, with data: Data, durable: Bool) throws(ClientError) {
        do {
            try AtomicFile.write(target, contents: data, mode: 0o600, durable: durable)
        } catch {
            throw ClientError.state(error.description)
        }
    }

    /// Bytes free for this user on the file system of the downloads folder; nil when it cannot be told.
    func freeBytes() -> Int64? {
        var info = statvfs()
        guard statvfs(downloads.path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    func createFolders() throws {
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
    }

    func readRecord(_ package: String) -> DownloadRecord? {
        guard let data = try? Data(contentsOf: record(package)), data.count < 1 << 20 else { return nil }
        return try? JSONDecoder().decode(DownloadRecord.self, from: data)
    }

    /// Written whole under another name and renamed: a kill leaves the old record or the new one. Not flushed
    /// to disk unless `durable`: a kill loses nothing the kernel holds, and flushing a small file on ext4 commits
    /// the journal and with it the partial file's dirty pages, every checkpoint.
    func write(_ value: DownloadRecord, durable: Bool = false) throws(ClientError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(value) } catch { throw ClientError.state("cannot encode the record: \(error)") }
        try Self.replace(record(value.package), with: data, durable: durable)
    }

    func forget(_ package: String) {
        unlink(record(package).path)
        unlink(partial(package).path)
    }
}

/// What a download in progress has: which version, how big, how far, and from where so far.
struct DownloadRecord: Codable, Sendable {
    var package: String
    var version: String
    var size: Int64
    var done: Int64
    var sources: [DownloadSource]
}

/// One distribution point's part of a download.
public struct DownloadSource: Codable, Sendable, Hashable {
    public var host: String
    public var from: Int64
    public var to: Int64
    /// `ok`, or why it stopped: `refused`, `timeout`, `other-version`, `http 503`, …
    public var result: String
}

/// What the JSON says of a download.
public struct DownloadReport: Codable, Sendable {
    public var size: Int64
    /// Bytes received by this run.
    public var transferred: Int64
    /// Where this run started: the bytes an earlier run had done.
    public var resumedFrom: Int64
    /// Whether what an earlier run had done was discarded (another version).
    public var restarted: Bool
    public var sources: [DownloadSource]
}

public enum ClientError: KindedError, Sendable {
    public var kind: FailureKind {
        switch self {
        case .noManagementPoint: .serviceUnavailable
        case .badInput: .badInput
        case .state: .badInput
        }
    }

    /// No management point answered: exit 3.
    case noManagementPoint(String)
    /// The request cannot be what the user meant: exit 2.
    case badInput(String)
    /// The state folder cannot be used.
    case state(String)

    public var description: String {
        switch self {
        case .noManagementPoint(let text), .badInput(let text), .state(let text): text
        }
    }
}
