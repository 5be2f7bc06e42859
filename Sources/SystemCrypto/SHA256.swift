import COpenSSLCrypto
public import Foundation

/// SHA-256 from the system's OpenSSL. A value: a copy goes on from where the original was.
public struct SHA256: Sendable {
    private var state = siteloc_sha256_state()

    public init() { siteloc_sha256_init(&state) }

    public mutating func update(data: some DataProtocol) {
        for region in data.regions {
            region.withUnsafeBytes { update(bufferPointer: $0) }
        }
    }

    public mutating func update(bufferPointer: UnsafeRawBufferPointer) {
        guard let base = bufferPointer.baseAddress, !bufferPointer.isEmpty else { return }
        siteloc_sha256_update(&state, base, bufferPointer.count)
    }

    /// The digest of what was added; the value itself stays usable (finalizing works on a copy).
    public func finalize() -> SHA256Digest {
        var copy = state
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeMutableBufferPointer { siteloc_sha256_final(&copy, $0.baseAddress) }
        return SHA256Digest(bytes: bytes)
    }

    public static func hash(data: some DataProtocol) -> SHA256Digest {
        var hash = SHA256()
        hash.update(data: data)
        return hash.finalize()
    }
}

/// A SHA-256 digest: 32 bytes.
public struct SHA256Digest: Sendable, Hashable, Sequence {
    public let bytes: [UInt8]

    /// Lower-case hex, 64 digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(64)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public func makeIterator() -> IndexingIterator<[UInt8]> { bytes.makeIterator() }
}

/// Random bytes from the system's generator.
public enum SystemRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let filled = bytes.withUnsafeMutableBufferPointer { siteloc_random_bytes($0.baseAddress, $0.count) }
        // Without randomness no key may be made; OpenSSL fails here only when the kernel cannot supply any.
        precondition(filled == 1, "the system's random generator failed")
        return bytes
    }
}
