import Foundation
import HierarchyFile
import Logging
import SiteAssembly
import SiteModel
import SiteRouting
import SiteServer
import Testing

/// Site-server folders for every site of a hierarchy in a scratch folder, with keys: what the site-server tests
/// stand on. Servers deliver into each other's inbox folders; `remove()` deletes everything.
struct SiteFolderFixture {
    let directory: URL
    let hierarchy: Hierarchy
    /// Each site's public key, as the directory would give it.
    let keys: [SiteCode: SitePublicKey]

    init(_ yaml: String, initialize only: [String]? = nil) throws {
        let result = HierarchyReader.read(yaml)
        try #require(result.errors.isEmpty, "\(result.errors)")
        hierarchy = result.hierarchy
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-sites-\(UUID().uuidString)")
        var keys: [SiteCode: SitePublicKey] = [:]
        for site in hierarchy.sites where only?.contains(site.code.rawValue) ?? true {
            keys[site.code] = try SiteFolders(site: site.code, sitesDirectory: directory).initialize().key
        }
        self.keys = keys
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    func folders(_ code: String) throws -> SiteFolders {
        SiteFolders(site: try SiteCode(code), sitesDirectory: directory)
    }

    func inbox(_ code: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: try folders(code).inbox.path)
    }

    /// `send package` with `bytes` bytes of content.
    @discardableResult
    func send(_ package: String, bytes: Int, byte: UInt8 = 7) throws -> PackageSending.Sent {
        let content = directory.appendingPathComponent("content-\(package).bin")
        try Data(repeating: byte, count: bytes).write(to: content)
        return try PackageSending.send(package, hierarchy: hierarchy, sitesDirectory: directory, content: content)
    }

    /// A site server delivering into the other sites' inbox folders; `directoryKeys` lets it read neighbours' keys
    /// as from a directory.
    func server(
        _ code: String,
        directoryKeys: Bool = false,
        resolveInbox: InboxResolver? = nil,
        configure: (inout SiteServerSettings) -> Void = { _ in }
    ) throws -> SiteServer {
        let keys = keys
        let deployment = Deployment(
            hierarchy: hierarchy,
            sitesDirectory: directory,
            inboxes: resolveInbox,
            logger: Logger(label: "test")
        )
        return try deployment.siteServers([try SiteCode(code)]) { settings in
            settings.directoryKey = directoryKeys ? { @Sendable site in keys[site].map { .key($0) } ?? .absent } : nil
            configure(&settings)
        }[0]
    }

    func signingKey(_ code: String) throws -> SiteSigningKey {
        try SiteSigningKey(contentsOf: try folders(code).signingKey)
    }

    /// What `siteloc keys export` at `sender` and `siteloc keys import` at `receiver` do.
    func exchangeKey(from sender: String, to receiver: String) throws {
        let site = try #require(hierarchy.site(try SiteCode(sender)))
        let file = directory.appendingPathComponent("\(sender).key")
        try SiteKeyFile(site: site.code, forest: site.forest, key: try #require(keys[site.code])).encoded().write(
            to: file
        )
        _ = try folders(receiver).importKey(from: file)
    }

    /// A job for `destination` carrying `payload`, as `signer` would send it, signed by `key` (nil: unsigned),
    /// written straight into `site`'s inbox; `alter` changes a byte of the payload after signing. The job says it
    /// comes from `origin` and carries an origin signature by `originKey` (by default the origin's own key), or none
    /// with `originUnsigned`.
    @discardableResult
    func drop(
        into site: String,
        signer: String,
        destination: String,
        key: SiteSigningKey?,
        origin: String = "CEN",
        originKey: SiteSigningKey? = nil,
        originUnsigned: Bool = false,
        package: String = "CEN00001",
        created: Date = Date(),
        payload: Data = Data(repeating: 7, count: 100_000),
        alter: Bool = false,
        change: (inout JobHeader) -> Void = { _ in }
    ) throws -> String {
        let content = directory.appendingPathComponent("payload-\(UUID().uuidString)")
        try payload.write(to: content)
        let (digest, bytes) = try JobFile.digest(of: content)
        var header = JobHeader(
            id: JobHeader.newID(package: package, destination: try SiteCode(destination)),
            package: package,
            origin: try SiteCode(origin),
            destination: try SiteCode(destination),
            signer: try SiteCode(signer),
            priority: .medium,
            created: created,
            payloadBytes: bytes,
            payloadSHA256: digest
        )
        if !originUnsigned { try header.signAsOrigin(with: try originKey ?? signingKey(origin)) }
        change(&header)
        // Written beside the inbox first, so the server never sees the job before it is complete.
        let staging = directory.appendingPathComponent("\(header.id).job")
        try JobFile.write(header, payload: content, signedBy: key, to: staging)
        if alter {
            let handle = try FileHandle(forUpdating: staging)
            try handle.seek(toOffset: try handle.seekToEnd() - 5)
            try handle.write(contentsOf: Data([0xFF]))
            try handle.close()
        }
        try FileManager.default.moveItem(
            at: staging,
            to: try folders(site).inbox.appendingPathComponent("\(header.id).\(signer).test.job")
        )
        return header.id
    }
}

extension SiteFolderFixture {
    /// A status job saying `origin` placed `version` of CEN00001 on `points` at `placedAt`, as `signer` hands it
    /// over to `site`, for the top of the hierarchy.
    @discardableResult
    func dropStatus(
        into site: String,
        signer: String,
        key: SiteSigningKey?,
        origin: String,
        originKey: SiteSigningKey? = nil,
        version: String = "sha256:" + String(repeating: "ab", count: 32),
        points: [String],
        placedAt: Date = Date(),
        sourceSigner: String? = "CEN",
        sourceCreated: Date? = nil
    ) throws -> String {
        // The package's source site's signed word for the version (whole seconds, as ISO 8601 carries them here).
        var source = ""
        if let sourceSigner {
            let created =
                sourceCreated ?? Date(timeIntervalSince1970: placedAt.timeIntervalSince1970.rounded(.down) - 1)
            var statement = JobHeader(
                id: "CEN00001-\(origin)-version",
                package: "CEN00001",
                origin: try SiteCode("CEN"),
                destination: try SiteCode(origin),
                signer: try SiteCode("CEN"),
                priority: .high,
                created: created,
                payloadBytes: 1,
                payloadSHA256: String(version.dropFirst("sha256:".count))
            )
            try statement.signAsOrigin(with: try signingKey(sourceSigner))
            source = """
                ,"source":{"job":"\(statement.id)","destination":"\(origin)",\
                "created":"\(ISO8601DateFormatter().string(from: created))","bytes":1,\
                "signature":"\(statement.originSignature ?? "")"}
                """
        }
        let report = """
            {"distributionPoints":[\(points.map { "\"\($0)\"" }.joined(separator: ","))],"package":"CEN00001",\
            "placedAt":"\(ISO8601DateFormatter().string(from: placedAt))","site":"\(origin)","version":"\(version)"\
            \(source)}
            """
        let payload = directory.appendingPathComponent("status-\(UUID().uuidString)")
        try Data(report.utf8).write(to: payload)
        let (digest, bytes) = try JobFile.digest(of: payload)
        var header = JobHeader(
            id: "CEN00001-\(origin)-status-\(UUID().uuidString.prefix(8))",
            kind: .status,
            package: "CEN00001",
            origin: try SiteCode(origin),
            destination: try SiteCode("CEN"),
            signer: try SiteCode(signer),
            priority: .high,
            created: placedAt,
            payloadBytes: bytes,
            payloadSHA256: digest
        )
        try header.signAsOrigin(with: try originKey ?? signingKey(origin))
        let staging = directory.appendingPathComponent("\(header.id).job")
        try JobFile.write(header, payload: payload, signedBy: key, to: staging)
        try FileManager.default.moveItem(
            at: staging,
            to: try folders(site).inbox.appendingPathComponent("\(header.id).\(signer).test.job")
        )
        return header.id
    }
}

/// Whether a site's database says the package is placed there: what a test waits for instead of a file.
func isPlaced(_ package: String, at site: String, sitesDirectory: URL) -> Bool {
    guard let code = try? SiteCode(site) else { return false }
    let folders = SiteFolders(site: code, sitesDirectory: sitesDirectory)
    return SiteStatus(folders: folders).packages.contains { $0.package == package }
}
