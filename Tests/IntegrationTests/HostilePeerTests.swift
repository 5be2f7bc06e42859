import Foundation
import LDAPKit
import Logging
import SiteDirectory
import SiteLocation
import SiteModel
import SiteServer
import SiteTestKit
import Testing

/// Directory servers that stay silent, crawl, talk nonsense, reset or announce a 2 GiB answer, over LDAP and over
/// TLS: every path that connects to a directory (the wrapper, a roaming client, a site server's key lookup, trust
/// check, publish) gives up within its timeout, and a working server listed after a hostile one is still reached.
///
/// The bounds are tight (the timeout and 0.7 s), so the cases run one at a time, and `make test` runs this suite and
/// `ConnectTimeouts` on their own after the others: on two cores, parallel load stretches any wall-clock bound.
extension Integration {
    @Suite(.serialized, .timeLimit(.minutes(5))) struct HostilePeers {
        static let timeout = Duration.seconds(1)
        static let margin = Duration.milliseconds(700)

        struct Peer: Sendable, CustomTestStringConvertible {
            var behaviour: HostileDirectory.Behaviour
            var tls: Bool
            var testDescription: String { "\(behaviour.rawValue)\(tls ? " TLS" : "")" }

            func start() throws -> (HostileDirectory, LDAPURI) {
                let server = try HostileDirectory(behaviour)
                return (server, try LDAPURI(tls ? server.ldapsURI : server.ldapURI))
            }
        }

        static let peers: [Peer] =
            HostileDirectory.Behaviour.allCases.map { Peer(behaviour: $0, tls: false) }
            + [Peer(behaviour: .silent, tls: true), Peer(behaviour: .trickle, tls: true)]

        static func elapsed(_ body: () async throws -> Void) async rethrows -> Duration {
            let start = ContinuousClock.now
            try await body()
            return ContinuousClock.now - start
        }

        /// What a roaming client of CEN at 10.10.1.1/16 hears from a directory at `uris`.
        static func ask(_ uris: [LDAPURI]) async throws -> DirectoryAnswer {
            let client = LDAPSiteDirectoryClient(
                access: DirectoryAccess(uris: uris, timeout: Self.timeout),
                layout: TestLab.layout,
                logger: TestLab.logger
            )
            let profile = ClientProfile(
                address: try ClientAddress("10.10.1.1/16"),
                assignedSite: try SiteCode("CEN"),
                membership: .forest("corp.contoso.com")
            )
            return await client.ask(profile) { _ in }
        }

        @Test(arguments: peers)
        func aSessionEndsWithinItsTimeouts(peer: Peer) async throws {
            let (server, uri) = try peer.start()
            defer { server.stop() }
            let configuration = LDAPConnectionConfiguration(
                uris: [uri],
                connectTimeout: Self.timeout,
                operationTimeout: Self.timeout
            )
            let took = await Self.elapsed {
                do {
                    _ = try await LDAPConnection.withSession(configuration, logger: TestLab.logger) { session in
                        try session.search(base: .root, scope: .base)
                    }
                    Issue.record("a \(peer.testDescription) server answered a search")
                } catch {}
            }
            // At most the connect timeout, then (for a server that answered the bind) one operation timeout.
            #expect(took < Self.timeout * 2 + Self.margin, "\(peer.testDescription): \(took)")
        }

        @Test(arguments: peers)
        func aRoamingClientRoamsRegionallyWithinItsLimit(peer: Peer) async throws {
            let (server, uri) = try peer.start()
            defer { server.stop() }
            var answer: DirectoryAnswer?
            let took = try await Self.elapsed { answer = try await Self.ask([uri]) }
            guard case .unreachable = answer else {
                Issue.record("\(peer.testDescription): \(String(describing: answer))")
                return
            }
            #expect(took < Self.timeout + .milliseconds(500) + Self.margin, "\(peer.testDescription): \(took)")
        }

        @Test(arguments: [Peer(behaviour: .silent, tls: true), Peer(behaviour: .trickle, tls: true)])
        func aWorkingServerAfterAHostileOneIsReachedWithinOneTimeout(peer: Peer) async throws {
            let (server, uri) = try peer.start()
            defer { server.stop() }
            var answer: DirectoryAnswer?
            let took = try await Self.elapsed {
                answer = try await Self.ask([uri, try LDAPURI(try TestLab.directory.uri)])
            }
            if case .unreachable(let why) = answer { Issue.record("the working server was not reached: \(why)") }
            #expect(took < Self.timeout + Self.margin, "\(took)")
        }

        @Test(arguments: peers)
        func aSiteServersKeyLookupGivesUpWithinItsTimeout(peer: Peer) async throws {
            let (server, uri) = try peer.start()
            defer { server.stop() }
            let sites = try SiteFolderFixture(SiteServerRefusal.yaml)
            defer { sites.remove() }
            let forest = try ForestName("corp.contoso.com")
            let lookup = DirectorySiteKeys(
                hierarchy: sites.hierarchy,
                directories: [forest: DirectoryAccess(uris: [uri], timeout: Self.timeout)],
                logger: TestLab.logger
            )
            var answer: DirectoryKeyAnswer?
            let took = await Self.elapsed { answer = await lookup.key(of: try! SiteCode("CEN")) }
            guard case .unreachable = answer else {
                Issue.record("\(peer.testDescription): \(String(describing: answer))")
                return
            }
            #expect(took < Self.timeout * 2 + Self.margin, "\(peer.testDescription): \(took)")
        }

        /// A site server whose forest's directory is a silent TLS server keeps working through its inbox (the key
        /// lookup gives up, the imported key verifies the job) and stops at once on SIGTERM.
        @Test func aSiteServerWithAHostileDirectoryKeepsWorkingAndStopsOnSigterm() async throws {
            let (server, uri) = try Peer(behaviour: .silent, tls: true).start()
            defer { server.stop() }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-hostile-\(UUID())")
            defer { try? FileManager.default.removeItem(at: folder) }
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let yaml = SiteServerRefusal.yaml.replacingOccurrences(
                of: "serverOS: windows2003}",
                with: "serverOS: windows2003, directory: [\"\(uri)\"]}"
            )
            let file = folder.appendingPathComponent("hierarchy.yaml").path
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            let site = ["--hierarchy", file, "--dir", folder.path]
            for code in ["CEN", "P01"] {
                #expect(try await CommandLine.siteloc(["site", "init", "--site", code] + site).status == 0)
            }
            let key = folder.appendingPathComponent("cen.key").path
            #expect(
                try await CommandLine.siteloc(["keys", "export", "--site", "CEN", "--output", key] + site).status == 0
            )
            #expect(
                try await CommandLine.siteloc(["keys", "import", "--site", "P01", "--file", key] + site).status == 0
            )
            let content = folder.appendingPathComponent("content.bin")
            try Data(repeating: 5, count: 1000).write(to: content)
            #expect(
                try await CommandLine.siteloc(["send", "package", "CEN00001", "--content", content.path] + site).status
                    == 0
            )
            let process = Process()
            process.executableURL = CommandLine.executable
            process.arguments = ["site", "run", "--all", "--transport", "folder", "--poll-interval", "0.05"] + site
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let sites = folder.appendingPathComponent("sites")
            let deadline = ContinuousClock.now + .seconds(30)
            while !isPlaced("CEN00001", at: "P01", sitesDirectory: sites), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(isPlaced("CEN00001", at: "P01", sitesDirectory: sites), "P01 did not apply the package")
            let stopped = ContinuousClock.now
            kill(process.processIdentifier, SIGTERM)
            while process.isRunning, ContinuousClock.now - stopped < .seconds(20) {
                try await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            #expect(ContinuousClock.now - stopped < Self.timeout * 2 + Self.margin, "\(ContinuousClock.now - stopped)")
            #expect(process.terminationStatus == 0)
        }

        /// A hierarchy whose one forest's directory is `uri`, and a folder of site identities for publishing.
        static func hierarchyFile(directory uri: LDAPURI, in folder: URL) throws -> String {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file = folder.appendingPathComponent("hostile.yaml")
            let yaml = """
                version: 1
                forests:
                  - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003,
                     directory: ["\(uri)"]}
                sites:
                  - {code: CEN, type: primary, forest: corp.contoso.com, server: cen-ss.corp.contoso.com,
                     boundaries: [subnet: 10.10.0.0/16]}
                """
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            try "secret\n".write(to: folder.appendingPathComponent("CEN.password"), atomically: true, encoding: .utf8)
            chmod(folder.appendingPathComponent("CEN.password").path, 0o600)
            return file.path
        }

        @Test(arguments: peers)
        func trustCheckAndPublishFailWithExitThreeWithinTheirTimeouts(peer: Peer) async throws {
            let (server, uri) = try peer.start()
            defer { server.stop() }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-hostile-\(UUID())")
            defer { try? FileManager.default.removeItem(at: folder) }
            let file = try Self.hierarchyFile(directory: uri, in: folder)
            for arguments in [
                ["trust", "check", "--hierarchy", file, "--from-directory", "--connect-timeout", "1"],
                ["publish", "--hierarchy", file, "--timeout", "1", "--identities", folder.path, "--dir", folder.path],
            ] {
                var run: CommandLine.Run?
                let took = try await Self.elapsed { run = try await CommandLine.siteloc(arguments) }
                #expect(run?.status == 3, "\(peer.testDescription) \(arguments[0]): \(run?.error ?? "")")
                // The process's own start and end, beside at most two timeouts (connect, then one answer).
                #expect(took < Self.timeout * 2 + .seconds(2), "\(peer.testDescription) \(arguments[0]): \(took)")
            }
        }
    }
}
