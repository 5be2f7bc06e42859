import DirectoryServing
import Foundation
import LDAPKit
import Logging
import SiteDirectory
import SiteLab
import SiteModel
import SiteTestKit
import Testing

/// The directory every integration test runs against: by default one slapd started by the suite through the
/// same code as `siteloc lab up`, in a temporary folder, and stopped afterwards; when slapd cannot start, the
/// suite fails with the reason, it never skips.
///
/// With `SITELOC_DIRECTORY_URI` set (space-separated URIs; an `ldapi://` one is used for SASL EXTERNAL),
/// `SITELOC_BIND_DN` and `SITELOC_BIND_PASSWORD_FILE` — what a user sets to point siteloc at an existing
/// directory — the suite runs against that directory instead; it must hold `dc=corp,dc=contoso,dc=com`.
struct LabScope: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    @concurrent func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @concurrent @Sendable () async throws -> Void
    ) async throws {
        if let external = try TestDirectory.fromEnvironment() {
            try await TestLab.$current.withValue(external) { try await function() }
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-tests-\(UUID().uuidString)")
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try await lab.up(forests: [TestLab.forest])
            guard let forest = lab.forests().first else { throw LabError("the test lab has no forest") }
            let directory = TestDirectory(
                uri: forest.uri,
                ldapiURI: forest.ldapiURI,
                adminDN: forest.adminDN,
                passwordFile: forest.passwordFile
            )
            try await TestLab.$current.withValue(directory) { try await function() }
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
    }
}

/// Where the integration tests' directory is and how to write to it.
struct TestDirectory: Sendable {
    var uri: String
    var ldapiURI: String?
    var adminDN: String
    var passwordFile: String

    static func fromEnvironment() throws -> TestDirectory? {
        let environment = ProcessInfo.processInfo.environment
        guard let uris = environment["SITELOC_DIRECTORY_URI"], !uris.isEmpty else { return nil }
        let list = uris.split(separator: " ").map(String.init)
        guard let uri = list.first(where: { !$0.hasPrefix("ldapi://") }) else {
            throw LabError("SITELOC_DIRECTORY_URI needs an ldap:// or ldaps:// URI")
        }
        guard let adminDN = environment["SITELOC_BIND_DN"], let passwordFile = environment["SITELOC_BIND_PASSWORD_FILE"]
        else { throw LabError("with SITELOC_DIRECTORY_URI, set SITELOC_BIND_DN and SITELOC_BIND_PASSWORD_FILE too") }
        return TestDirectory(
            uri: uri,
            ldapiURI: list.first { $0.hasPrefix("ldapi://") },
            adminDN: adminDN,
            passwordFile: passwordFile
        )
    }

    func access(as identity: LabIdentity) throws -> DirectoryAccess {
        switch identity {
        case .anonymous:
            return DirectoryAccess(uris: [try LDAPURI(uri)], operationTimeout: .seconds(30))
        case .admin:
            return DirectoryAccess(
                uris: [try LDAPURI(uri)],
                credential: .passwordFile(
                    dn: try DistinguishedName(parsing: adminDN),
                    file: URL(fileURLWithPath: passwordFile)
                ),
                operationTimeout: .seconds(30)
            )
        case .localOwner:
            guard let ldapiURI else { throw LabError("this test needs an ldapi:// URI in SITELOC_DIRECTORY_URI") }
            return DirectoryAccess(
                uris: [try LDAPURI(ldapiURI)],
                credential: .transportIdentity,
                operationTimeout: .seconds(30)
            )
        }
    }
}

extension Trait where Self == LabScope {
    static var lab: LabScope { LabScope() }
}

enum TestLab {
    static let forest = try! ForestName("corp.contoso.com")
    static let layout = DirectoryLayout(forest: forest)
    static let logger = Logger(label: "siteloc.tests")

    @TaskLocal static var current: TestDirectory?

    static var directory: TestDirectory {
        get throws {
            guard let current else { throw LabError("integration tests must run inside the .lab suite") }
            return current
        }
    }

    /// A lab of its own, for a test that pauses or kills its slapd; brought down and removed afterwards.
    static func withPrivateLab(_ body: (Lab, LabForest) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "siteloc-private-\(UUID().uuidString)"
        )
        let lab = Lab(directory: folder.path, logger: logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        try await lab.up(forests: [forest])
        do {
            guard let directory = lab.forests().first, directory.pid != nil else { throw LabError("no lab forest") }
            try await body(lab, directory)
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
    }

    static func connect(as identity: LabIdentity) async throws -> LDAPConnection {
        try await directory.access(as: identity).connect(logger: logger)
    }

    /// A container of its own below cn=System Management for one test, removed with everything in it afterwards.
    static func withScratchContainer(_ body: (DistinguishedName, LDAPConnection) async throws -> Void) async throws {
        let admin = try await connect(as: .admin)
        let container = layout.systemManagement.child("cn", "test-\(UUID().uuidString)")
        try await admin.add(
            container,
            attributes: [LDAPAttribute("objectClass", "container"), LDAPAttribute("cn", container.rdns[0].value)]
        )
        do {
            try await body(container, admin)
        } catch {
            try? await removeTree(container, admin)
            throw error
        }
        try await removeTree(container, admin)
        await admin.close()
    }

    /// Adds an `SMS-Site-<code>` object with roaming boundaries below `container`; returns its DN.
    static func addSite(
        _ code: String,
        boundaries: [String],
        below container: DistinguishedName,
        on connection: LDAPConnection
    ) async throws -> DistinguishedName {
        let site = container.child("cn", "SMS-Site-\(code)")
        try await connection.add(
            site,
            attributes: [
                LDAPAttribute("objectClass", ["top", "mSSMSSite"]), LDAPAttribute("cn", "SMS-Site-\(code)"),
                LDAPAttribute("mSSMSSiteCode", code), LDAPAttribute("mSSMSRoamingBoundaries", boundaries),
            ]
        )
        return site
    }

    static func removeTree(_ base: DistinguishedName, _ connection: LDAPConnection) async throws {
        let entries = try await connection.searchAllPages(base: base, attributes: ["1.1"], pageSize: 1000)
        let deepestFirst = try entries.map { try $0.distinguishedName }.sorted { $0.rdns.count > $1.rdns.count }
        for dn in deepestFirst { try await connection.delete(dn) }
    }
}

/// The top of the integration suite; the suites in the other files extend it, so one lab serves them all.
@Suite(.lab, .timeLimit(.minutes(2))) struct Integration {}

typealias SilentServer = SilentListener

/// A loopback port with nothing listening: connections are refused at once.
func closedPort() throws -> Int {
    try SilentListener.closedPort()
}
