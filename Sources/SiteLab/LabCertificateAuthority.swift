import Crypto
public import DirectoryServing
public import Foundation
public import SiteModel
import SwiftASN1
import X509

/// The lab's private certificate authority (docs/content-services.md, "Native mode"): one per lab, in
/// `<lab>/ca/` — `ca.key` (mode 600, P-256) and `ca.pem`. It issues a server certificate for each host of a
/// native-mode site (`hosts/<host>.pem` and `.key`, mode 600) and client certificates for native-mode clients
/// (`siteloc client enroll`). Certificates are valid for a year; the authority for ten.
public struct LabCertificateAuthority: Sendable {
    public let folder: URL

    public init(lab: Lab) {
        folder = lab.directory.appendingPathComponent("ca", isDirectory: true)
    }

    var keyFile: URL { folder.appendingPathComponent("ca.key") }
    var certificateFile: URL { folder.appendingPathComponent("ca.pem") }

    /// The authority's certificate, PEM; created with its key the first time.
    public func authority() throws(LabError) -> String {
        try load().certificatePEM
    }

    /// The server identity of a site-system host: issued the first time, then kept.
    public func serverIdentity(for host: String) throws(LabError) -> TLSIdentity {
        guard let name = DNSName.normalized(host) else { throw LabError("\(host) is not a host name", kind: .badInput) }
        let hosts = folder.appendingPathComponent("hosts", isDirectory: true)
        let certificate = hosts.appendingPathComponent(name + ".pem")
        let key = hosts.appendingPathComponent(name + ".key")
        let ca = try load()
        if let certificatePEM = try? String(contentsOf: certificate, encoding: .utf8),
            let keyPEM = try? String(contentsOf: key, encoding: .utf8)
        {
            return TLSIdentity(certificatePEM: certificatePEM, privateKeyPEM: keyPEM, authorityPEM: ca.certificatePEM)
        }
        let issued = try issue(
            commonName: name,
            names: [.dnsName(name), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))],
            usage: .serverAuth,
            by: ca
        )
        try PrivateFiles.createFolder(hosts.path)
        try PrivateFiles.write(key.path, issued.privateKeyPEM)
        try Self.write(certificate, issued.certificatePEM)
        return issued
    }

    /// A client identity for a native-mode client, not kept in the lab (the client keeps it).
    public func clientIdentity(for name: String) throws(LabError) -> TLSIdentity {
        guard !name.isEmpty, name.utf8.count <= 64,
            name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F })
        else {
            throw LabError(
                "a client name is 1 to 64 printable ASCII characters, not '\(name.prefix(64))'",
                kind: .badInput
            )
        }
        return try issue(commonName: name, names: [], usage: .clientAuth, by: try load())
    }

    // MARK: Issuing

    private struct Authority {
        var key: P256.Signing.PrivateKey
        var certificate: Certificate
        var certificatePEM: String
    }

    private func load() throws(LabError) -> Authority {
        if let keyPEM = try? String(contentsOf: keyFile, encoding: .utf8),
            let certificatePEM = try? String(contentsOf: certificateFile, encoding: .utf8)
        {
            do {
                return Authority(
                    key: try P256.Signing.PrivateKey(pemRepresentation: keyPEM),
                    certificate: try Certificate(pemEncoded: certificatePEM),
                    certificatePEM: certificatePEM
                )
            } catch {
                throw LabError("the lab's certificate authority in \(folder.path) cannot be read: \(error)")
            }
        }
        do {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName {
                OrganizationName("siteloc lab")
                CommonName("siteloc lab certificate authority")
            }
            let now = Date()
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
            let certificatePEM = try certificate.serializeAsPEM().pemString
            try PrivateFiles.createFolder(folder.path)
            try PrivateFiles.write(keyFile.path, key.pemRepresentation)
            try Self.write(certificateFile, certificatePEM)
            return Authority(key: key, certificate: certificate, certificatePEM: certificatePEM)
        } catch let error as LabError {
            throw error
        } catch {
            throw LabError("cannot create the lab's certificate authority in \(folder.path): \(error)")
        }
    }

    private func issue(
        commonName: String,
        names: [GeneralName],
        usage: ExtendedKeyUsage.Usage,
        by authority: Authority
    ) throws(LabError) -> TLSIdentity {
        do {
            let key = P256.Signing.PrivateKey()
            let now = Date()
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(365 * 86_400),
                issuer: authority.certificate.subject,
                subject: try DistinguishedName { CommonName(commonName) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([usage])
                    if !names.isEmpty { SubjectAlternativeNames(names) }
                },
                issuerPrivateKey: Certificate.PrivateKey(authority.key)
            )
            return TLSIdentity(
                certificatePEM: try certificate.serializeAsPEM().pemString,
                privateKeyPEM: key.pemRepresentation,
                authorityPEM: authority.certificatePEM
            )
        } catch {
            throw LabError("cannot issue a certificate for \(commonName): \(error)")
        }
    }

    // MARK: Files

    /// A certificate: public, written whole under another name and renamed.
    static func write(_ file: URL, _ text: String) throws(LabError) {
        do { try Data(text.utf8).write(to: file, options: .atomic) } catch {
            throw LabError("cannot write \(file.path): \(error)")
        }
    }
}
