import COpenSSLCrypto
public import Foundation

/// Ed25519 (RFC 8032) from the system's OpenSSL, keys in their 32-byte raw forms.
public enum Ed25519 {
    public struct PublicKey: Sendable, Equatable {
        public let rawRepresentation: Data

        /// Nil unless `raw` is 32 bytes (OpenSSL checks the point when verifying).
        public init?(rawRepresentation raw: some DataProtocol) {
            guard raw.count == 32 else { return nil }
            rawRepresentation = Data(raw)
        }

        public func isValidSignature(_ signature: some DataProtocol, for message: some DataProtocol) -> Bool {
            let key = Array(rawRepresentation)
            let signature = Array(signature)
            let message = Array(message)
            return message.withUnsafeBufferPointer { text in
                signature.withUnsafeBufferPointer { signed in
                    siteloc_ed25519_verify(key, text.baseAddress, text.count, signed.baseAddress, signed.count) == 1
                }
            }
        }
    }

    /// A private key: its 32-byte seed. It never prints.
    public struct PrivateKey: Sendable, CustomStringConvertible {
        public let rawRepresentation: Data
        public let publicKey: PublicKey

        public init() {
            // 32 random bytes are always a valid seed.
            try! self.init(rawRepresentation: SystemRandom.bytes(32))
        }

        public init(rawRepresentation raw: some DataProtocol) throws(Ed25519Error) {
            let seed = Array(raw)
            var publicBytes = [UInt8](repeating: 0, count: 32)
            guard seed.count == 32, siteloc_ed25519_public_key(seed, &publicBytes) == 1,
                let publicKey = PublicKey(rawRepresentation: publicBytes)
            else { throw Ed25519Error() }
            rawRepresentation = Data(seed)
            self.publicKey = publicKey
        }

        public func signature(for message: some DataProtocol) throws(Ed25519Error) -> Data {
            let seed = Array(rawRepresentation)
            let message = Array(message)
            var signature = [UInt8](repeating: 0, count: 64)
            let signed = message.withUnsafeBufferPointer {
                siteloc_ed25519_sign(seed, $0.baseAddress, $0.count, &signature)
            }
            guard signed == 1 else { throw Ed25519Error() }
            return Data(signature)
        }

        public var description: String { "<Ed25519 private key>" }
    }
}

/// An Ed25519 key that is not 32 bytes, or a signing OpenSSL refused.
public struct Ed25519Error: Error, CustomStringConvertible {
    public var description: String { "not a valid Ed25519 key (32 bytes expected)" }
}
