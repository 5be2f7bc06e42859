import DirectoryServing
import Foundation
import LDAPKit
import SiteDirectory
import Testing

@testable import SiteLab

/// StartTLS and ldaps:// against a slapd with a self-signed certificate that refuses anything but TLS
/// (`security tls=1`), so a search that succeeds proves the connection is encrypted.
@Suite(.timeLimit(.minutes(2))) struct TLS {
    @Test func startTLSAndLdapsWithTheRightCertificateAuthority() async throws {
        try await Self.withTLSSlapd { slapd, certificate in
            let tls = LDAPConnectionConfiguration.TLS(startTLS: true, caCertificateFile: certificate)
            let startTLS = try await LDAPConnection.connect(
                LDAPConnectionConfiguration(uris: [slapd.uri], tls: tls),
                logger: TestLab.logger
            )
            #expect(
                try await startTLS.search(base: .root, scope: .base, attributes: ["supportedLDAPVersion"]).count == 1
            )
            await startTLS.close()

            let ldaps = try await LDAPConnection.connect(
                LDAPConnectionConfiguration(
                    uris: [try #require(slapd.ldaps)],
                    tls: .init(caCertificateFile: certificate)
                ),
                logger: TestLab.logger
            )
            #expect(try await ldaps.search(base: .root, scope: .base, attributes: ["supportedLDAPVersion"]).count == 1)
            await ldaps.close()
        }
    }

    @Test func plainConnectionsAreRefusedByThisServer() async throws {
        try await Self.withTLSSlapd { slapd, _ in
            do {
                _ = try await LDAPConnection.connect(
                    LDAPConnectionConfiguration(uris: [slapd.uri]),
                    logger: TestLab.logger
                )
                Issue.record("the server requires TLS")
            } catch let error as LDAPError {
                #expect(error.code == .confidentialityRequired)
            }
        }
    }

    @Test func anUntrustedCertificateIsRefused() async throws {
        try await Self.withTLSSlapd { slapd, _ in
            let otherCA = FileManager.default.temporaryDirectory.appendingPathComponent(
                "siteloc-otherca-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: otherCA, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: otherCA) }
            let untrusted = try await Self.makeCertificate(in: otherCA.path)
            do {
                _ = try await LDAPConnection.connect(
                    LDAPConnectionConfiguration(
                        uris: [slapd.uri],
                        tls: .init(startTLS: true, caCertificateFile: untrusted)
                    ),
                    logger: TestLab.logger
                )
                Issue.record("a certificate from another authority must not verify")
            } catch let error as LDAPError {
                #expect(error.operation == .startTLS || error.operation == .connect)
            }
            let unverified = try await LDAPConnection.connect(
                LDAPConnectionConfiguration(uris: [slapd.uri], tls: .init(startTLS: true, verifyCertificate: false)),
                logger: TestLab.logger
            )
            await unverified.close()
        }
    }

    static func withTLSSlapd(_ body: (BareSlapd, String) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let certificate = try await makeCertificate(in: folder.path)
        let config = """
            TLSCertificateFile \(certificate)
            TLSCertificateKeyFile \(folder.path)/key.pem
            security tls=1
            """
        try await BareSlapd.with(schemaFile: nil, globalConfig: config, ldaps: true) { slapd in
            try await body(slapd, certificate)
        }
    }

    /// A self-signed certificate for 127.0.0.1; returns the certificate's path (the key is beside it).
    static func makeCertificate(in folder: String) async throws -> String {
        _ = try await ProcessControl.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem",
            ]
        )
        return folder + "/cert.pem"
    }
}
