import Foundation
import LDAPKit
import SiteDirectory
import SiteLab
import SiteTestKit
import Testing

extension Integration {
    @Suite struct ConnectTimeouts {
        static let timeout = Duration.seconds(1)
        static let margin = Duration.milliseconds(700)

        @Test func closedPortFailsAtOnce() async throws {
            let port = try closedPort()
            let configuration = LDAPConnectionConfiguration(
                uris: [try LDAPURI("ldap://127.0.0.1:\(port)")],
                connectTimeout: Self.timeout
            )
            let start = ContinuousClock.now
            do {
                _ = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
                Issue.record("nothing listens there")
            } catch {
                #expect(error.code == .serverDown)
                #expect(error.server?.port == port)
            }
            #expect(ContinuousClock.now - start < Self.timeout + Self.margin)
        }

        @Test(arguments: [
            LDAPConnectionConfiguration.Authentication.anonymous,
            .simple(dn: .root.child("cn", "x"), password: Secret("y")),
        ])
        func serverThatAcceptsButNeverAnswersCostsTheTimeout(
            authentication: LDAPConnectionConfiguration.Authentication
        )
            async throws
        {
            let silent = try SilentServer()
            let configuration = LDAPConnectionConfiguration(
                uris: [try LDAPURI("ldap://127.0.0.1:\(silent.port)")],
                connectTimeout: Self.timeout,
                authentication: authentication
            )
            let start = ContinuousClock.now
            do {
                _ = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
                Issue.record("a silent server must not count as connected")
            } catch {
                #expect(error.code == .timeout)
            }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= Self.timeout - .milliseconds(50))
            #expect(elapsed < Self.timeout + Self.margin)
        }

        @Test func failsOverFromDeadURIsToALiveOne() async throws {
            let silent = try SilentServer()
            let closed = try closedPort()
            let live = try LDAPURI(try TestLab.directory.uri)
            let configuration = LDAPConnectionConfiguration(
                uris: [
                    try LDAPURI("ldap://127.0.0.1:\(closed)"), try LDAPURI("ldap://127.0.0.1:\(silent.port)"), live,
                ],
                connectTimeout: Self.timeout
            )
            let start = ContinuousClock.now
            let connection = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
            let elapsed = ContinuousClock.now - start
            #expect(connection.server == live)
            #expect(elapsed < Self.timeout * 2 + Self.margin)
            #expect(try await connection.search(base: TestLab.layout.suffix, scope: .base).count == 1)
            await connection.close()
        }

        @Test func whenEveryURIFailsTheErrorListsEachAttempt() async throws {
            let silent = try SilentServer()
            let closed = try closedPort()
            let configuration = LDAPConnectionConfiguration(
                uris: [try LDAPURI("ldap://127.0.0.1:\(closed)"), try LDAPURI("ldap://127.0.0.1:\(silent.port)")],
                connectTimeout: .milliseconds(300)
            )
            do {
                _ = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
                Issue.record("no server answers")
            } catch {
                #expect(error.operation == .connect)
                #expect(error.attempts.map(\.code) == [.serverDown, .timeout])
                #expect("\(error)".contains("127.0.0.1:\(silent.port)"))
            }
        }
    }
}
