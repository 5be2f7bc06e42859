/// A certificate and its private key, PEM-encoded, with the certificate authority that issued it: what a TLS
/// endpoint presents and what it trusts.
public struct TLSIdentity: Sendable, Hashable {
    public var certificatePEM: String
    public var privateKeyPEM: String
    public var authorityPEM: String

    public init(certificatePEM: String, privateKeyPEM: String, authorityPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.authorityPEM = authorityPEM
    }
}
