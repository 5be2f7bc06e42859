import Foundation
import SystemCalls
import SystemCrypto
import Testing

@Suite("The system's OpenSSL: SHA-256, Ed25519, certificates")
struct SystemCryptoTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var result = [UInt8]()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    @Test func sha256MatchesFIPS180Vectors() {
        #expect(SHA256.hash(data: Data()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hash(data: Data("abc".utf8)).hex
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
        // Fed in pieces, and a copy taken half-way goes on from there.
        var hash = SHA256()
        hash.update(data: Data("ab".utf8))
        var fork = hash
        hash.update(data: Data("c".utf8))
        fork.update(data: Data("x".utf8))
        #expect(hash.finalize() == SHA256.hash(data: Data("abc".utf8)))
        #expect(fork.finalize() == SHA256.hash(data: Data("abx".utf8)))
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hash(data: million).hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// RFC 8032, 7.1, TEST 2: keys written by earlier siteloc versions (CryptoKit's raw forms) stay readable.
    @Test func ed25519MatchesRFC8032() throws {
        let key = try Ed25519.PrivateKey(
            rawRepresentation: Self.bytes("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
        )
        #expect(
            Array(key.publicKey.rawRepresentation)
                == Self.bytes("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        )
        let signature = try key.signature(for: [0x72])
        #expect(
            Array(signature)
                == Self.bytes(
                    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                        + "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
                )
        )
        #expect(key.publicKey.isValidSignature(signature, for: [0x72]))
        #expect(!key.publicKey.isValidSignature(signature, for: [0x73]))
        var altered = Array(signature)
        altered[5] ^= 1
        #expect(!key.publicKey.isValidSignature(altered, for: [0x72]))
        #expect(!key.publicKey.isValidSignature(signature.prefix(63), for: [0x72]))
        #expect(!Ed25519.PrivateKey().publicKey.isValidSignature(signature, for: [0x72]))
        #expect(throws: Ed25519Error.self) {
            try Ed25519.PrivateKey(rawRepresentation: [UInt8](repeating: 1, count: 31))
        }
        #expect(Ed25519.PublicKey(rawRepresentation: [UInt8](repeating: 1, count: 33)) == nil)
    }

    @Test func newKeysDiffer() {
        #expect(Ed25519.PrivateKey().rawRepresentation != Ed25519.PrivateKey().rawRepresentation)
        let printed = "\(Ed25519.PrivateKey())"
        #expect(printed == "<Ed25519 private key>")
    }

    /// The certificates pass OpenSSL's own command-line verification for their purpose, with their names.
    @Test func issuedCertificatesVerifyWithOpenSSL() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-crypto-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let authority = try Certificates.issue(
            commonName: "test authority",
            organization: "siteloc lab",
            usage: .authority,
            validitySeconds: 3600
        )
        let server = try Certificates.issue(
            commonName: "mp1.corp.contoso.com",
            usage: .server,
            dnsNames: ["mp1.corp.contoso.com"],
            ipv4Addresses: [[127, 0, 0, 1]],
            validitySeconds: 3600,
            authority: (authority.certificatePEM, authority.privateKeyPEM)
        )
        let client = try Certificates.issue(
            commonName: "client 1",
            usage: .client,
            validitySeconds: 3600,
            authority: (authority.certificatePEM, authority.privateKeyPEM)
        )
        #expect(server.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        for (name, text) in [
            ("ca.pem", authority.certificatePEM), ("server.pem", server.certificatePEM),
            ("client.pem", client.certificatePEM),
        ] {
            try Data(text.utf8).write(to: folder.appendingPathComponent(name))
        }
        func openssl(_ arguments: [String]) throws -> (Int32, String) {
            let result = try ChildProcess.run("/usr/bin/openssl", arguments, mergeErrors: true)
            return (result.status, result.text)
        }
        let ca = folder.appendingPathComponent("ca.pem").path
        let serverFile = folder.appendingPathComponent("server.pem").path
        let clientFile = folder.appendingPathComponent("client.pem").path
        #expect(
            try openssl([
                "verify", "-CAfile", ca, "-purpose", "sslserver", "-verify_hostname", "mp1.corp.contoso.com",
                "-verify_ip", "127.0.0.1", serverFile,
            ]).0 == 0
        )
        #expect(try openssl(["verify", "-CAfile", ca, "-purpose", "sslclient", clientFile]).0 == 0)
        #expect(try openssl(["verify", "-CAfile", ca, "-purpose", "sslclient", serverFile]).0 != 0)
        #expect(try openssl(["verify", "-CAfile", ca, "-verify_hostname", "other.example", serverFile]).0 != 0)
        // Signed by the authority, not by itself: another authority does not vouch for it.
        let other = try Certificates.issue(commonName: "other", usage: .authority, validitySeconds: 3600)
        try Data(other.certificatePEM.utf8).write(to: folder.appendingPathComponent("other.pem"))
        #expect(try openssl(["verify", "-CAfile", folder.appendingPathComponent("other.pem").path, serverFile]).0 != 0)
        #expect(throws: CertificateError.self) {
            try Certificates.issue(
                commonName: "x",
                usage: .server,
                validitySeconds: 60,
                authority: ("not a certificate", "not a key")
            )
        }
    }
}
