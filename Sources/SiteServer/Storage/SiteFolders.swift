public import Foundation
public import SiteDatabase
public import SiteModel
import SystemCalls

/// The folders of one site server, under `<sites>/<CODE>/` (by default `.siteloc/lab/sites/CEN`).
///
///     keys/site.key            the private signing key, mode 600
///     keys/site.pub            its public key, `ed25519:<base64>`
///     keys/peers/<CODE>.json   other sites' keys imported with `siteloc keys import`
///     inbox/                   jobs arrive here as `*.job` (the SMB share SMS_<CODE>); anything else is ignored
///     outbox/<id>.job          jobs waiting to go to the next hop, with `<id>.state.json` (attempts, progress)
///     rejected/<name>          refused jobs, with `<name>.reason.json`
///     content/<PKG>/<hex>.bin   the content library: the version of the package placed here
///     site.sqlite              the site database: placements, the package status of the sites below, and one
///                              record per job handled here (applied, forwarded, recorded): the idempotence key
///     courier/                 parcels written by the courier sender, to be carried by hand
///     events.log               one JSON line per thing that happened
///     server.json, server.lock the running server's pid and heartbeat; the lock keeps it to one per site
public struct SiteFolders: Sendable {
    public let site: SiteCode
    public let root: URL

    public init(site: SiteCode, sitesDirectory: URL) {
        self.site = site
        root = sitesDirectory.appendingPathComponent(site.rawValue, isDirectory: true)
    }

    public var keys: URL { root.appendingPathComponent("keys", isDirectory: true) }
    public var signingKey: URL { keys.appendingPathComponent("site.key") }
    public var publicKey: URL { keys.appendingPathComponent("site.pub") }
    public var peers: URL { keys.appendingPathComponent("peers", isDirectory: true) }
    public func peerKey(_ site: SiteCode) -> URL { peers.appendingPathComponent("\(site.rawValue).json") }
    public var inbox: URL { root.appendingPathComponent("inbox", isDirectory: true) }
    public var outbox: URL { root.appendingPathComponent("outbox", isDirectory: true) }
    /// Jobs taken out of the inbox: out of the neighbours' reach (the inbox is their share) while they are checked
    /// and used, so nothing can change between the check and the use.
    public var work: URL { root.appendingPathComponent("work", isDirectory: true) }
    public var rejected: URL { root.appendingPathComponent("rejected", isDirectory: true) }
    public var content: URL { root.appendingPathComponent("content", isDirectory: true) }
    public var courier: URL { root.appendingPathComponent("courier", isDirectory: true) }
    public var events: URL { root.appendingPathComponent("events.log") }
    public var serverState: URL { root.appendingPathComponent("server.json") }
    public var lock: URL { root.appendingPathComponent("server.lock") }
    public var database: URL { root.appendingPathComponent(SiteDatabase.fileName) }

    /// The site database: created and migrated for a writer (the site server, `send package`); for a reader, nil
    /// when the site has none yet.
    public func openDatabase(readOnly: Bool = false) throws(SiteServerError) -> SiteDatabase? {
        if readOnly, !FileManager.default.fileExists(atPath: database.path) { return nil }
        do {
            return try SiteDatabase(url: database, readOnly: readOnly)
        } catch {
            throw SiteServerError(error.description)
        }
    }

    public func package(_ id: String) -> URL { content.appendingPathComponent(id, isDirectory: true) }

    /// Whether `site init` has run here.
    public var isInitialized: Bool { FileManager.default.fileExists(atPath: signingKey.path) }

    /// Creates the folders (the inbox is world-writable for the SMB account only through smbd's own checks).
    public func create() throws(SiteServerError) {
        for folder in [root, keys, peers, inbox, work, outbox, rejected, content, courier] {
            try RegularFile.createDirectory(folder)
        }
        chmod(keys.path, 0o700)
    }

    /// Files with the given suffix in a folder, oldest name first; hidden (temporary) files never count.
    func files(in folder: URL, suffix: String) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0.hasSuffix("." + suffix) }.sorted()
            .map { folder.appendingPathComponent($0) }
    }

    /// Creates the site's signing key pair; an existing key is kept (so `site init` can run again safely).
    /// Returns the public key and whether it is new.
    public func initialize() throws(SiteServerError) -> (key: SitePublicKey, created: Bool) {
        try create()
        if isInitialized {
            let key = try SiteSigningKey(contentsOf: signingKey).publicKey
            return (key, false)
        }
        let key = SiteSigningKey()
        try key.write(to: signingKey)
        try SiteServerError.storing {
            try AtomicFile.write(publicKey, contents: Data((key.publicKey.published + "\n").utf8))
        }
        return (key.publicKey, true)
    }

    /// The site's public key, if it has been initialised.
    public func readPublicKey() -> SitePublicKey? {
        guard let data = RegularFile.contents(of: publicKey, limit: 4096) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        return SitePublicKey(published: text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Stores another site's key from a key file. A neighbour's key verifies the jobs it hands over; any site's key
    /// verifies the origin signature of the jobs it creates. With `hierarchy`, a key of a site the hierarchy does not
    /// have is refused before anything is written.
    public func importKey(
        from file: URL,
        knownIn hierarchy: Hierarchy? = nil
    ) throws(SiteServerError) -> (
        SiteCode, SitePublicKey
    ) {
        let (site, key, keyFile) = try SiteKeyFile.read(file)
        guard site != self.site else {
            throw SiteServerError("\(file.path) holds site \(site)'s own key; import it at another site")
        }
        if let hierarchy, hierarchy.site(site) == nil {
            throw SiteServerError(
                "\(file.path) holds the key of \(site), which is not a site of the hierarchy; expected the key of one"
                    + " of: \(hierarchy.sites.map(\.code.rawValue).joined(separator: ", "))"
            )
        }
        try create()
        try SiteServerError.storing { try AtomicFile.write(peerKey(site), contents: keyFile.encoded()) }
        return (site, key)
    }

    /// A site's key imported by hand, if any.
    public func importedKey(of site: SiteCode) -> SitePublicKey? {
        guard let (code, key, _) = try? SiteKeyFile.read(peerKey(site)), code == site else { return nil }
        return key
    }
}
