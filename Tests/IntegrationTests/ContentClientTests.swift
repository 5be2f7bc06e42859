import AsyncHTTPClient
import BlockingWork
import Foundation
import Logging
import SiteAssembly
import SiteClient
import SiteDirectory
import SiteLab
import SiteLocation
import SiteModel
import SiteServer
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A directory that says the client is in one site's first boundary, whatever its address: how a test makes a
/// client roam (the directory itself is tested against slapd elsewhere).
struct RoamingDirectory: SiteDirectoryClient {
    let site: Site
    /// The roamed site's mode, as the scheme of its published management point address says.
    var mode: SiteMode = .mixed

    func ask(_ client: ClientProfile, trace: @escaping @Sendable (String) -> Void) async -> DirectoryAnswer {
        guard !site.boundaries.isEmpty, let host = site.defaultManagementPointHost else {
            return .answered([], residentManagementPoints: [:])
        }
        let match = BoundaryMatch(
            kind: .subnet,
            value: "\(site.code) boundary",
            site: site.code,
            span: 256,
            dn: "cn=\(site.code)"
        )
        return .answered(
            [match],
            residentManagementPoints: [site.code: ResidentManagementPoint(host: host, mode: mode)]
        )
    }
}

/// A distribution point gone bad: answers like the real one (same ETag, same size) but sends only the first
/// `cut` bytes of the answer and closes, or sends other bytes. Serves any number of connections until closed.
final class BadDistributionPoint: Sendable {
    enum Fault: Sendable {
        case closesAfter(Int)
        case corrupts
    }

    let port: Int
    private let socket: Int32

    init(content: Data, version: String, fault: Fault) throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var one: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        listen(socket, 16)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        port = Int(UInt16(bigEndian: bound.sin_port))
        self.socket = socket
        let thread = Thread {
            while true {
                let connection = accept(socket, nil, nil)
                if connection < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 8192)
                let count = read(connection, &buffer, buffer.count)
                let request = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
                var first = 0
                if let line = request.components(separatedBy: "\r\n").first(where: {
                    $0.lowercased().hasPrefix("range: bytes=")
                }) {
                    first = Int(line.dropFirst("range: bytes=".count).split(separator: "-").first ?? "") ?? 0
                }
                var body = Data(content[first...])
                let status = first > 0 ? "206 Partial Content" : "200 OK"
                var head =
                    "HTTP/1.1 \(status)\r\nETag: \"\(version)\"\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
                if first > 0 { head += "Content-Range: bytes \(first)-\(content.count - 1)/\(content.count)\r\n" }
                head += "\r\n"
                switch fault {
                case .closesAfter(let cut): body = body.prefix(cut)
                case .corrupts: body = Data(body.map { $0 ^ 0xFF })
                }
                let out = Array(head.utf8) + Array(body)
                _ = out.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                Glibc.close(connection)
            }
        }
        thread.start()
    }

    func close() {
        shutdown(socket, Int32(SHUT_RDWR))
        Glibc.close(socket)
    }
}

@Suite(.timeLimit(.minutes(3))) struct ContentClientTests {
    static let size = 12 << 20

    static func content(_ seed: UInt8) -> Data {
        Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    }

    /// A client of `fixture` assigned to P01, in the forest; `roamedTo` is where the directory says it is.
    static func client(
        _ fixture: ServicesFixture,
        state: URL,
        roamedTo site: String,
        maxRate: Int? = nil,
        timeout: Duration = .seconds(5),
        systemURLs: (@Sendable (String) -> URL?)? = nil
    ) throws -> ContentClient {
        let roamed = try #require(fixture.hierarchy.site(try SiteCode(site)))
        return ContentClient(
            hierarchy: fixture.hierarchy,
            directory: { _ in RoamingDirectory(site: roamed) },
            systemURLs: systemURLs ?? fixture.deployment.systemURLs,
            state: ClientState(folder: state),
            timeout: timeout,
            maxRate: maxRate,
            logger: Logger(label: "test")
        )
    }

    static func profile(_ address: String) throws -> ClientProfile {
        ClientProfile(
            address: try ClientAddress(address),
            assignedSite: try SiteCode("P01"),
            membership: .forest("corp.contoso.com")
        )
    }

    /// Starts downloading CEN00002 in Lyon (S01), slowly, and stops once a checkpoint has been written; returns the
    /// download's record.
    static func startInLyonAndStop(_ fixture: ServicesFixture, state: URL, advertisement: String?) async throws -> URL {
        let slow = try client(fixture, state: state, roamedTo: "S01", maxRate: 6 << 20)
        let first = Task {
            try await slow.get(try profile("10.22.0.5/24"), package: "CEN00002", advertisement: advertisement)
        }
        let record = state.appendingPathComponent("downloads/CEN00002.json")
        let deadline = ContinuousClock.now + .seconds(30)
        while !FileManager.default.fileExists(atPath: record.path), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        first.cancel()
        _ = try? await first.value
        return record
    }

    /// CEN00002 is on cen-dp1 (CEN), s01-mp (S01) and p02-dp (P02); CEN knows them all, S01 only its own.
    @Test func aDownloadCutShortResumesFromAnotherDistributionPointAfterTheClientRoamed() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        let content = Self.content(1)
        for site in ["CEN", "S01", "P02"] { try fixture.place("CEN00002", at: site, bytes: content) }
        let state = fixture.root.appendingPathComponent("client")
        try await fixture.serving {
            let record = try await Self.startInLyonAndStop(fixture, state: state, advertisement: "CEN20002")
            let stopped = try JSONSerialization.jsonObject(with: Data(contentsOf: record)) as? [String: Any]
            let done = try #require(stopped?["done"] as? Int)
            #expect(done > 0 && done < Self.size)

            // Back at headquarters (CEN): the same version from cen-dp1, from the byte where it stopped.
            let roamed = try Self.client(fixture, state: state, roamedTo: "CEN")
            let result = try await roamed.get(
                try Self.profile("10.10.5.5/16"),
                package: "CEN00002",
                advertisement: "CEN20002"
            )
            #expect(result.status == .complete, "\(result.content.location.trace)")
            let download = try #require(result.download)
            #expect(download.resumedFrom == Int64(done) && !download.restarted)
            #expect(download.transferred == Int64(Self.size - done))
            #expect(download.sources.map(\.host) == ["cen-dp1.corp.contoso.com"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: try #require(result.path))) == content)
            // Asked again: in the cache, nothing downloaded.
            let again = try await roamed.get(try Self.profile("10.10.5.5/16"), package: "CEN00002", advertisement: nil)
            #expect(again.status == .inCache && again.download == nil)
        }
    }

    @Test func whenADistributionPointStopsMidwayTheNextContinuesAndCorruptBytesNeverEnterTheCache() async throws {
        // A second distribution point at CEN holding CEN00002: a client there is offered both.
        let fixture = try ServicesFixture.withSecondDistributionPointAtCEN()
        defer { fixture.remove() }
        let content = Self.content(2)
        var placement: PackagePlacement?
        for site in ["CEN", "S01", "P02"] { placement = try fixture.place("CEN00002", at: site, bytes: content) }
        let version = try #require(placement?.version)
        try await fixture.serving {
            let cutting = try BadDistributionPoint(content: content, version: version, fault: .closesAfter(3 << 20))
            defer { cutting.close() }
            let client = try Self.client(fixture, state: fixture.root.appendingPathComponent("a"), roamedTo: "CEN")
            let plan = try await client.get(
                try Self.profile("10.10.5.5/16"),
                package: "CEN00002",
                advertisement: "CEN20002"
            )
            let offers = plan.content.distributionPoints.map(\.host)
            try #require(offers.count >= 2, "\(plan.content.location.trace)")
            // The management point gives each distribution point's URL: the first one's now leads to the bad one.
            let first = try fixture.url(offers[0])
            fixture.urls.set(offers[0], try #require(URL(string: "http://127.0.0.1:\(cutting.port)")))
            defer { fixture.urls.set(offers[0], first) }
            let fresh = try Self.client(fixture, state: fixture.root.appendingPathComponent("a2"), roamedTo: "CEN")
            let result = try await fresh.get(
                try Self.profile("10.10.5.5/16"),
                package: "CEN00002",
                advertisement: "CEN20002"
            )
            #expect(result.status == .complete, "\(result.content.location.trace)")
            let sources = try #require(result.download?.sources)
            let cut = try #require(sources.first)
            #expect(cut.host == offers[0] && cut.result != "ok" && cut.to > 0 && cut.to < Int64(Self.size))
            #expect(sources.last?.host == offers[1] && sources.last?.from == cut.to && sources.last?.result == "ok")
            #expect(result.download?.transferred == Int64(Self.size))
            #expect(try Data(contentsOf: URL(fileURLWithPath: try #require(result.path))) == content)

            // A distribution point serving other bytes under the version's tag: corrupt, nothing cached.
            let corrupting = try BadDistributionPoint(content: content, version: version, fault: .corrupts)
            defer { corrupting.close() }
            let state = fixture.root.appendingPathComponent("b")
            // Both of CEN's distribution points now lead to the corrupting one.
            for host in ["cen-dp1.corp.contoso.com", "cen-dp2.corp.contoso.com"] {
                fixture.urls.set(host, try #require(URL(string: "http://127.0.0.1:\(corrupting.port)")))
            }
            let badDP = try Self.client(fixture, state: state, roamedTo: "CEN")
            let corrupt = try await badDP.get(
                try Self.profile("10.10.5.5/16"),
                package: "CEN00002",
                advertisement: "CEN20002"
            )
            #expect(corrupt.status == .corrupt && corrupt.exitStatus == 1)
            #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("cache").path))
            #expect(
                !FileManager.default.fileExists(atPath: state.appendingPathComponent("downloads/CEN00002.part").path)
            )
        }
    }

    @Test func aNewVersionStartsTheDownloadOverAndNoManagementPointMeansExitThree() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        for site in ["CEN", "S01", "P02"] { try fixture.place("CEN00002", at: site, bytes: Self.content(3)) }
        let state = fixture.root.appendingPathComponent("client")
        try await fixture.serving {
            _ = try await Self.startInLyonAndStop(fixture, state: state, advertisement: nil)
            // A new version arrives everywhere meanwhile.
            let newer = Self.content(4)
            for site in ["CEN", "S01", "P02"] { try fixture.place("CEN00002", at: site, bytes: newer) }
            let result = try await Self.client(fixture, state: state, roamedTo: "S01")
                .get(try Self.profile("10.22.0.5/24"), package: "CEN00002", advertisement: nil)
            #expect(result.status == .complete)
            #expect(result.download?.restarted == true && result.download?.resumedFrom == 0)
            #expect(result.content.location.trace.contains { $0.contains("is discarded") })
            #expect(try Data(contentsOf: URL(fileURLWithPath: try #require(result.path))) == newer)

            // No management point listening: exit 3, naming the hosts.
            let nowhere = try Self.client(fixture, state: state, roamedTo: "S01") { _ in nil }
            do {
                _ = try await nowhere.get(try Self.profile("10.22.0.5/24"), package: "CEN00002", advertisement: nil)
                Issue.record("a client with no management point got an answer")
            } catch let error as ClientError {
                guard case .noManagementPoint(let message) = error else {
                    Issue.record("\(error)")
                    return
                }
                #expect(message.contains("s01-mp.corp.contoso.com") && message.contains("p01-mp.corp.contoso.com"))
            }
        }
    }
}

/// `siteloc client get` as a process, killed with SIGKILL at several points of a download, then run again to the
/// end: it resumes where the last flushed record says, and the content is whole.
@Suite(.timeLimit(.minutes(3))) struct ClientCommandKills {
    @Test func aClientKilledSeveralTimesResumesEachTimeAndEndsWithTheWholeContent() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        let size = 24 << 20
        let content = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        for site in ["CEN", "S01", "P02"] { try fixture.place("CEN00002", at: site, bytes: content) }
        let hierarchyFile = fixture.root.appendingPathComponent("hierarchy.yaml")
        try fixture.yaml.write(to: hierarchyFile, atomically: true, encoding: .utf8)
        let lab = fixture.root.appendingPathComponent("lab")
        let state = fixture.root.appendingPathComponent("client")
        try await fixture.serving {
            // Where each host listens, as `site run` records it for clients.
            let records = Lab(directory: lab.path, logger: Logger(label: "test"))
            for site in fixture.hierarchy.sites {
                for system in site.systems {
                    if let url = fixture.urls.get(system.host) { try records.record(system, of: site.code, url: url) }
                }
            }
            // A workgroup client of P01 in Lyon: its default management point offers S01's copy.
            let arguments = [
                "client", "get", "--hierarchy", hierarchyFile.path, "--dir", lab.path, "--workgroup",
                "--ip", "10.22.0.5/24", "--assigned-site", "P01", "--package", "CEN00002",
                "--advertisement", "CEN20002", "--state", state.path, "--json",
            ]
            let record = state.appendingPathComponent("downloads/CEN00002.json")
            var recorded: [Int] = []
            for _ in 0..<3 {
                let process = Process()
                process.executableURL = CommandLine.executable
                process.arguments = arguments + ["--max-rate", String(8 << 20)]
                let log = fixture.root.appendingPathComponent("client-\(recorded.count).log")
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                let output = try FileHandle(forWritingTo: log)
                process.standardOutput = output
                process.standardError = output
                try process.run()
                // Killed once it has flushed a checkpoint beyond the last one.
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline {
                    let done =
                        (try? JSONSerialization.jsonObject(with: Data(contentsOf: record)) as? [String: Any])?["done"]
                        as? Int ?? 0
                    if done > (recorded.last ?? 0) { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let said = String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self)
                try #require(FileManager.default.fileExists(atPath: record.path), "\(said)")
                let done =
                    (try JSONSerialization.jsonObject(with: Data(contentsOf: record)) as? [String: Any])?["done"]
                    as? Int ?? 0
                recorded.append(done)
            }
            #expect(recorded == recorded.sorted() && Set(recorded).count == 3, "\(recorded)")
            let run = try await CommandLine.siteloc(arguments)
            #expect(run.status == 0, "\(run.error)")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            #expect(result["status"] as? String == "complete")
            let download = try #require(result["download"] as? [String: Any])
            #expect(download["resumedFrom"] as? Int == recorded.last)
            #expect(download["transferred"] as? Int == size - (recorded.last ?? 0))
            let path = try #require(result["path"] as? String)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content)
        }
    }
}

/// Native mode for real: a native-mode site's management point and distribution points serve HTTPS only, with
/// certificates from the lab's authority, and require a client certificate from it.
@Suite(.timeLimit(.minutes(2))) struct NativeMode {
    @Test func nativeSitesServeHTTPSOnlyAndOnlyToClientsWithACertificate() async throws {
        // P02 native, under a native central site (a native site's parent is native too); P01 stays mixed.
        let fixture = try ServicesFixture.withNativeP02()
        defer { fixture.remove() }
        let content = ContentClientTests.content(5)
        for site in ["CEN", "S01", "P02"] { try fixture.place("CEN00002", at: site, bytes: content) }
        let p02 = try #require(fixture.hierarchy.site(try SiteCode("P02")))
        try await fixture.serving {
            let mp = try fixture.url("p02-mp.fabrikam.com")
            let dp = try fixture.url("p02-dp.fabrikam.com")
            let mixedSite = try fixture.url("p01-mp.corp.contoso.com")
            #expect(mp.scheme == "https" && dp.scheme == "https" && mixedSite.scheme == "http")
            // Plain HTTP to a native-mode site's management point gets no answer.
            let plain = try? await RawHTTP.send(
                port: try #require(mp.port),
                "GET /siteloc/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            #expect(plain?.status != 200)

            // A native-mode client of P02, enrolled: everything over HTTPS with its certificate.
            let state = fixture.root.appendingPathComponent("native")
            try ClientState(folder: state).store(try fixture.authority.clientIdentity(for: "berlin laptop"))
            var native = ContentClient(
                hierarchy: fixture.hierarchy,
                directory: { _ in RoamingDirectory(site: p02, mode: .native) },
                systemURLs: fixture.deployment.systemURLs,
                state: ClientState(folder: state),
                timeout: .seconds(5),
                logger: Logger(label: "test")
            )
            native.identity = ClientState(folder: state).identity()
            let profile = ClientProfile(
                address: try ClientAddress("10.30.1.1/16"),
                assignedSite: p02.code,
                membership: .forest("fabrikam.com")
            )
            let result = try await native.get(profile, package: "CEN00002", advertisement: "CEN20002")
            #expect(result.status == .complete, "\(result.content.location.trace)")
            #expect(result.download?.sources.map(\.host) == ["p02-dp.fabrikam.com"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: try #require(result.path))) == content)

            // The same client without a certificate: refused by every management point it may use.
            native.identity = nil
            do {
                _ = try await native.get(profile, package: "CEN00002", advertisement: "CEN20002")
                Issue.record("a native-mode client without a certificate got an answer")
            } catch let error as ClientError {
                guard case .noManagementPoint(let message) = error else { throw error }
                #expect(message.contains("p02-mp.fabrikam.com"))
            }

            // A mixed-mode client (assigned to P01) in Berlin: the mode rule keeps it off P02's services, and it has
            // no certificate they would accept anyway.
            let mixed = try ContentClientTests.client(
                fixture,
                state: fixture.root.appendingPathComponent("mixed"),
                roamedTo: "P01"
            )
            var roaming = mixed
            roaming.directory = { _ in RoamingDirectory(site: p02, mode: .native) }
            let refused = try await roaming.get(
                try ContentClientTests.profile("10.30.1.1/16"),
                package: "CEN00002",
                advertisement: "CEN20002"
            )
            #expect(refused.content.location.modeMismatch)
            #expect(refused.content.answeredBy == "p01-mp.corp.contoso.com")
            #expect(!(refused.download?.sources ?? []).contains { $0.host.hasSuffix("fabrikam.com") })
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let identityless = ManagementPointClient(
                host: "p02-mp.fabrikam.com",
                site: p02.code,
                url: mp,
                http: http,
                timeout: .seconds(5)
            )
            await #expect(throws: (any Error).self) { _ = try await identityless.identity() }
            try await http.shutdown()
        }
    }
}

extension ServicesFixture {
    /// The example hierarchy with P02 in native mode, under a native central site (a native site's parent is native
    /// too); P01 stays mixed.
    static func withNativeP02() throws -> ServicesFixture {
        try ServicesFixture { yaml in
            yaml.replacingOccurrences(
                of: "    server: p02-ss.fabrikam.com\n",
                with: "    mode: native\n    server: p02-ss.fabrikam.com\n"
            ).replacingOccurrences(
                of: "    mode: mixed\n    server: cen-ss",
                with: "    mode: native\n    server: cen-ss"
            )
        }
    }

    /// The example hierarchy with a second distribution point at CEN holding CEN00002: a client there is offered
    /// both, so a test can lead the first to a bad server and watch the client move on.
    static func withSecondDistributionPointAtCEN() throws -> ServicesFixture {
        try ServicesFixture { yaml in
            yaml.replacingOccurrences(
                of: "      - host: cen-dp1.corp.contoso.com\n        roles: [distributionPoint]\n",
                with: "      - host: cen-dp1.corp.contoso.com\n        roles: [distributionPoint]\n"
                    + "      - host: cen-dp2.corp.contoso.com\n        roles: [distributionPoint]\n"
            ).replacingOccurrences(
                of: "distributionPoints: [cen-dp1.corp.contoso.com, s01-mp",
                with: "distributionPoints: [cen-dp1.corp.contoso.com, cen-dp2.corp.contoso.com, s01-mp"
            )
        }
    }
}
