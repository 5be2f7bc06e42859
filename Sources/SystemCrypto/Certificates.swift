import COpenSSLCrypto

#if canImport(Glibc)
import Glibc
#endif

/// X.509 certificates for a private authority (the lab's), issued by the system's OpenSSL: P-256 keys, ECDSA with
/// SHA-256, PEM out.
public enum Certificates {
    public enum Usage: Sendable {
        /// A certificate authority that may sign end-entity certificates only (path length 0).
        case authority
        case server
        case client
    }

    /// A certificate and its new private key (PKCS#8), both PEM.
    public struct Issued: Sendable {
        public var certificatePEM: String
        public var privateKeyPEM: String
    }

    /// Issues a certificate for a new key, signed by `authority` (its certificate and key, PEM), or self-signed when
    /// there is none. Valid from an hour ago (clocks differ) for `validity` seconds.
    public static func issue(
        commonName: String,
        organization: String? = nil,
        usage: Usage,
        dnsNames: [String] = [],
        ipv4Addresses: [[UInt8]] = [],
        validitySeconds: Int,
        authority: (certificatePEM: String, privateKeyPEM: String)? = nil
    ) throws(CertificateError) -> Issued {
        guard ipv4Addresses.allSatisfy({ $0.count == 4 }) else { throw CertificateError("an IPv4 address is 4 bytes") }
        let kind: siteloc_certificate_usage =
            switch usage {
            case .authority: SITELOC_CERTIFICATE_AUTHORITY
            case .server: SITELOC_CERTIFICATE_SERVER
            case .client: SITELOC_CERTIFICATE_CLIENT
            }
        var certificate: UnsafeMutablePointer<CChar>?
        var key: UnsafeMutablePointer<CChar>?
        var error = [CChar](repeating: 0, count: 512)
        let addresses = ipv4Addresses.flatMap { $0 }
        let names = dnsNames.map { strdup($0) }
        defer { for name in names { free(name) } }
        let issued = names.map { $0.map { UnsafePointer<CChar>($0) } }.withUnsafeBufferPointer { nameList in
            addresses.withUnsafeBufferPointer { addressList in
                siteloc_issue_certificate(
                    authority?.certificatePEM,
                    authority?.privateKeyPEM,
                    commonName,
                    organization,
                    kind,
                    nameList.baseAddress,
                    nameList.count,
                    addressList.baseAddress,
                    ipv4Addresses.count,
                    -3600,
                    validitySeconds,
                    &certificate,
                    &key,
                    &error,
                    error.count
                )
            }
        }
        defer {
            siteloc_crypto_free(certificate)
            siteloc_crypto_free(key)
        }
        guard issued == 1, let certificate, let key else {
            throw CertificateError(
                String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            )
        }
        return Issued(certificatePEM: String(cString: certificate), privateKeyPEM: String(cString: key))
    }
}

public struct CertificateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
