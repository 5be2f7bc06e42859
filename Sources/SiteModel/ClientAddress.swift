/// A client's interface address with the prefix length it sees, `10.20.1.5/24` or `2001:db8:10::5/64`.
public enum ClientAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address, prefixLength: Int)
    case v6(IPv6Address, prefixLength: Int)

    /// Parses `address/len`. IPv6 without a length means /64; IPv4 must give one (its subnet ID depends on it).
    public init(_ text: String) throws(ClientAddressError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw ClientAddressError(text: text) }
        let length = parts.count == 2 ? Int(parts[1]) : nil
        if parts.count == 2 && length == nil { throw ClientAddressError(text: text) }
        if let address = IPv4Address(parts[0]) {
            guard let length, (0...32).contains(length) else { throw ClientAddressError(text: text) }
            self = .v4(address, prefixLength: length)
        } else if let address = IPv6Address(parts[0]) {
            let length = length ?? 64
            guard (0...128).contains(length) else { throw ClientAddressError(text: text) }
            self = .v6(address, prefixLength: length)
        } else {
            throw ClientAddressError(text: text)
        }
    }

    public var description: String {
        switch self {
        case .v4(let address, let length): "\(address)/\(length)"
        case .v6(let address, let length): "\(address)/\(length)"
        }
    }
}

public struct ClientAddressError: KindedError {
    public var kind: FailureKind { .badInput }
    public let text: String
    public var description: String {
        "'\(text)' is not a client address; expected ADDRESS/LEN such as 10.20.1.5/24 (an IPv4 address needs its prefix length) or 2001:db8:10::5/64"
    }
}
