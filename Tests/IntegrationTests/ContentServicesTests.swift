import AsyncHTTPClient
import Foundation
import HierarchyFile
import Logging
import NIOCore
import SiteAssembly
import SiteDatabase
import SiteLab
import SiteLocation
import SiteModel
import SiteServer
import SiteServices
import Synchronization
import Testing

/// The example hierarchy's site systems served over HTTP in this process, each on a port of its own, with site
/// databases holding what the test places; what a management point may know is only its own database.
struct ServicesFixture {
    let hierarchy: Hierarchy
    /// The hierarchy file's text.
    let yaml: String
    let deployment: Deployment
    let root: URL
    let urls = AddressBook()
    /// The certificate authority of the fixture's lab folder: native-mode sites' systems get their certificates here.
    let authority: LabCertificateAuthority
    /// Each site's database open for writing for the whole test, as its site server keeps it (the services beside
    /// it read it read-only).
    let databases: [SiteCode: SiteDatabase]

    /// The example hierarchy, changed by `change` and with `extra` appended (more advertisements, say).
    init(appending extra: String = "", change: (String) -> String = { $0 }) throws {
        let file = ContentServices.repository.appendingPathComponent("examples/contoso.yaml")
        yaml = change(try String(contentsOf: file, encoding: .utf8)) + extra
        let read = HierarchyReader.read(yaml)
        try #require(read.errors.isEmpty, "\(read.errors)")
        hierarchy = read.hierarchy
        root = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-services-\(UUID().uuidString)")
        var deployment = Deployment(hierarchy: hierarchy, sitesDirectory: root, logger: Logger(label: "test"))
        deployment.systemURLs = { [urls] host in urls.get(host) }
        let authority = LabCertificateAuthority(
            lab: Lab(directory: root.appendingPathComponent("lab").path, logger: Logger(label: "test"))
        )
        self.authority = authority
        deployment.serverIdentity = { try? authority.serverIdentity(for: $0.host) }
        self.deployment = deployment
        var databases: [SiteCode: SiteDatabase] = [:]
        for site in hierarchy.sites {
            _ = try deployment.folders(of: site.code).initialize()
            databases[site.code] = try deployment.folders(of: site.code).openDatabase()
        }
        self.databases = databases
    }

    func remove() { try? FileManager.default.removeItem(at: root) }

    func url(_ host: String) throws -> URL { try #require(urls.get(host)) }

    /// Places `bytes` of content for `package` at `site` (on its DPs the package lists), and reports it to every
    /// site above, as package status would.
    @discardableResult
    func place(_ package: String, at code: String, bytes: Data) throws -> PackagePlacement {
        let site = try #require(hierarchy.site(try SiteCode(code)))
        let folders = deployment.folders(of: site.code)
        let database = try #require(databases[site.code])
        let content = root.appendingPathComponent("content-\(UUID().uuidString)")
        try bytes.write(to: content)
        let placement = try ContentLibrary(folders: folders, database: database).place(
            try #require(hierarchy.package(package)),
            in: hierarchy,
            from: content,
            job: nil,
            created: Date()
        )
        var above = site.parent
        while let parent = above {
            _ = try #require(databases[parent]).record(
                PackageStatus(
                    site: code,
                    package: package,
                    version: placement.version,
                    distributionPoints: placement.distributionPoints,
                    placedAt: placement.placed
                )
            )
            above = hierarchy.site(parent)?.parent
        }
        return placement
    }

    /// Places every package at every site that has a distribution point the package lists, and reports it up.
    func placeEverything() throws {
        for package in hierarchy.packages {
            for site in hierarchy.sites
            where site.systems.contains(where: { package.distributionPoints.contains($0.host) }) {
                try place(package.id, at: site.code.rawValue, bytes: Data("\(package.id) content".utf8))
            }
        }
    }

    /// A content location request to a management point, and its answer's status and body.
    func ask(_ host: String, _ body: String) async throws -> RawHTTP.Answer {
        try await RawHTTP.send(
            port: try #require(try url(host).port),
            "POST /siteloc/v1/content-location HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        )
    }

    /// Runs every site system's services while `body` runs.
    func serving<T: Sendable>(limits: ServiceLimits? = nil, _ body: () async throws -> T) async throws -> T {
        // The command line serves its Prometheus registry's text; the services only pass on what they are given.
        let metrics = MetricsExposition { "# TYPE siteloc_fixture_total counter\nsiteloc_fixture_total 1\n" }
        let servers = try deployment.siteSystemServers(hierarchy.sites.map(\.code), metrics: metrics, limits: limits) {
            [urls] system, _, url in
            urls.set(system.host, url)
        }
        return try await withServices(servers, logger: Logger(label: "test")) {
            let expected = servers.count
            let deadline = ContinuousClock.now + .seconds(20)
            while urls.count < expected {
                guard ContinuousClock.now < deadline else { throw RawHTTPError("the services did not start") }
                try await Task.sleep(for: .milliseconds(20))
            }
            return try await body()
        }
    }
}

/// Where each host listens, as the servers report it.
final class AddressBook: Sendable {
    private let urls = Mutex<[String: URL]>([:])
    func get(_ host: String) -> URL? { urls.withLock { $0[host] } }
    func set(_ host: String, _ url: URL) { urls.withLock { $0[host] = url } }
    var count: Int { urls.withLock { $0.count } }
}

@Suite(.timeLimit(.minutes(2))) struct ContentServices {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A raw request to a host's service.
    static func raw(
        _ fixture: ServicesFixture,
        _ host: String,
        _ head: String,
        headers: String = "",
        body: String = ""
    ) async throws
        -> RawHTTP.Answer
    {
        let port = try #require(try fixture.url(host).port)
        var length = body.isEmpty ? "" : "Content-Length: \(body.utf8.count)\r\nContent-Type: application/json\r\n"
        if !headers.isEmpty { length += headers + "\r\n" }
        return try await RawHTTP.send(
            port: port,
            "\(head) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\(length)\r\n\(body)"
        )
    }

    @Test func aDistributionPointServesWhatIsPlacedOnItWithEveryRangeAClientNeeds() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        let content = Data((0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let placement = try fixture.place("CEN00001", at: "P01", bytes: content)
        // Placed at P01 too, but on none of its distribution points: the package lists none of them.
        try fixture.place("CEN00002", at: "P01", bytes: content)
        let etag = "\"\(placement.version)\""
        try await fixture.serving {
            let dp = "p01-dp.corp.contoso.com"
            let path = "/SMS_DP_SMSPKG$/CEN00001/"
            func get(_ headers: String = "", method: String = "GET") async throws -> RawHTTP.Answer {
                try await RawHTTP.send(
                    port: try #require(try fixture.url(dp).port),
                    "\(method) \(path) HTTP/1.1\r\nHost: \(dp)\r\nConnection: close\r\n\(headers)\r\n"
                )
            }
            let whole = try await get()
            #expect(whole.status == 200 && whole.body == content)
            #expect(whole.headers["etag"] == etag && whole.headers["accept-ranges"] == "bytes")
            #expect(whole.headers["content-length"] == "1000")
            let head = try await get(method: "HEAD")
            #expect(head.status == 200 && head.body.isEmpty && head.headers["content-length"] == "1000")
            #expect(head.headers["etag"] == etag)

            let part = try await get("Range: bytes=100-199\r\n")
            #expect(part.status == 206 && part.body == content[100..<200])
            #expect(part.headers["content-range"] == "bytes 100-199/1000")
            let suffix = try await get("Range: bytes=-10\r\n")
            #expect(suffix.status == 206 && suffix.body == content.suffix(10))
            #expect(suffix.headers["content-range"] == "bytes 990-999/1000")
            let past = try await get("Range: bytes=2000-\r\n")
            #expect(past.status == 416 && past.headers["content-range"] == "bytes */1000" && past.body.isEmpty)
            let resumed = try await get("Range: bytes=600-\r\nIf-Range: \(etag)\r\n")
            #expect(resumed.status == 206 && resumed.body == content[600...])
            let changed = try await get("Range: bytes=600-\r\nIf-Range: \"sha256:0000\"\r\n")
            #expect(changed.status == 200 && changed.body == content)
            let headPart = try await get("Range: bytes=-10\r\n", method: "HEAD")
            #expect(headPart.status == 206 && headPart.headers["content-length"] == "10" && headPart.body.isEmpty)

            // Only what is placed on this DP: another site's DP, a package of the site not on this DP, anything
            // else is 404.
            #expect(try await Self.raw(fixture, "p01-dp-secure.corp.contoso.com", "GET \(path)").body == content)
            #expect(try await Self.raw(fixture, "cen-dp1.corp.contoso.com", "GET \(path)").status == 404)
            for target in [
                "/SMS_DP_SMSPKG$/CEN00002/", "/SMS_DP_SMSPKG$/../../etc/passwd",
                "/SMS_DP_SMSPKG$/..%2F..%2Fetc%2Fpasswd",
                "/SMS_DP_SMSPKG$/%2Fetc%2Fpasswd/", "/SMS_DP_SMSPKG$/cen00001/", "/SMS_DP_SMSPKG$/CEN00001/../CEN00001",
                "//etc/passwd", "/SMS_DP_SMSPKG$/CEN0000%31/", "/SMS_DP_SMSPKG$/CEN00001%00/",
            ] {
                let answer = try await Self.raw(fixture, dp, "GET \(target)")
                #expect(answer.status == 404 || answer.status == 400, "\(target): \(answer.status)")
                #expect(!answer.body.contains(Data("root:".utf8)))
            }
        }
    }

    @Test func aNewVersionReplacesTheOldOneAndADownloadResumesOnlyOnTheSameVersion() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        let first = try fixture.place("CEN00001", at: "P01", bytes: Data(repeating: 1, count: 5_000))
        try await fixture.serving {
            let path = "GET /SMS_DP_SMSPKG$/CEN00001/"
            let before = try await Self.raw(fixture, "p01-dp.corp.contoso.com", path)
            #expect(before.headers["etag"] == "\"\(first.version)\"")
            let second = try fixture.place("CEN00001", at: "P01", bytes: Data(repeating: 2, count: 6_000))
            let after = try await Self.raw(fixture, "p01-dp.corp.contoso.com", path)
            #expect(after.headers["etag"] == "\"\(second.version)\"" && after.body == Data(repeating: 2, count: 6_000))
            // A client resuming the first version is given the whole new one.
            let resumed = try await RawHTTP.send(
                port: try #require(try fixture.url("p01-dp.corp.contoso.com").port),
                "\(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: bytes=2500-\r\nIf-Range: \"\(first.version)\"\r\n\r\n"
            )
            #expect(resumed.status == 200 && resumed.body.count == 6_000)
            // Only the current version's file is kept.
            let folder = fixture.deployment.folders(of: try SiteCode("P01")).package("CEN00001")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [second.sha256 + ".bin"])
        }
    }
}
