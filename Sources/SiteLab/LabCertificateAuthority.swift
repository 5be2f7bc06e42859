public import DirectoryServing
public import Foundation
public import SiteModel
import SystemCrypto

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
            dnsNames: [name],
            ipv4Addresses: [[127, 0, 0, 1]],
            usage: .server,
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
        return try issue(commonName: name, dnsNames: [], ipv4Addresses: [], usage: .client, by: try load())
    }

    // MARK: Issuing

    private struct Authority {
        var certificatePEM: String
        var privateKeyPEM: String
    }

    private func load() throws(LabError) -> Authority {
        if let keyPEM = try? String(contentsOf: keyFile, encoding: .utf8),
            let certificatePEM = try? String(contentsOf: certificateFile, encoding: .utf8)
        {
            return Authority(certificatePEM: certificatePEM, privateKeyPEM: keyPEM)
        }
        do {
            let issued = try Certificates.issue(
                commonName: "siteloc lab certificate authority",
                organization: "siteloc lab",
                usage: .authority,
                validitySeconds: 10 * 365 * 86_400
            )
            try PrivateFiles.createFolder(folder.path)
            try PrivateFiles.write(keyFile.path, issued.privateKeyPEM)
            try Self.write(certificateFile, issued.certificatePEM)
            return Authority(certificatePEM: issued.certificatePEM, privateKeyPEM: issued.privateKeyPEM)
        } catch let error as LabError {
            throw error
        } catch {
            throw LabError("cannot create the lab's certificate authority in \(folder.path): \(error)")
        }
    }

    private func issue(
        commonName: String,
        dnsNames: [String],
        ipv4Addresses: [[UInt8]],
        usage: Certificates.Usage,
        by authority: Authority
    ) throws(LabError) -> TLSIdentity {
        do {
            let issued = try Certificates.issue(
                commonName: commonName,
                usage: usage,
                dnsNames: dnsNames,
                ipv4Addresses: ipv4Addresses,
                validitySeconds: 365 * 86_400,
                authority: (authority.certificatePEM, authority.privateKeyPEM)
            )
            return TLSIdentity(
                certificatePEM: issued.certificatePEM,
                privateKeyPEM: issued.privateKeyPEM,
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
