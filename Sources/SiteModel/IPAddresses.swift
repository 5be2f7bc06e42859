/// An IPv4 address, held as its unsigned 32-bit value (the form `mSSMSRangedIPLow`/`High` publish in decimal).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) {
        self.value = value
    }

    /// Parses dotted-quad text, `10.20.0.1`; nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigitCharacter), let octet = UInt32(part),
                octet <= 255, !(part.count > 1 && part.first == "0")
            else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// The address with its host bits cleared for a prefix length (0–32).
    public func masked(to prefixLength: Int) -> IPv4Address {
        IPv4Address(prefixLength == 0 ? 0 : value & ~UInt32(0) << (32 - prefixLength))
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 network in CIDR form, `10.10.0.0/16`.
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv4Address
    public let prefixLength: Int

    public init(address: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength))
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `a.b.c.d/len`. With `requireZeroHostBits`, `10.10.0.1/16` is refused.
    public init?(_ text: some StringProtocol, requireZeroHostBits: Bool = true) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]), parts[1].allSatisfy(\.isASCIIDigitCharacter),
            let length = Int(parts[1]), (0...32).contains(length)
        else { return nil }
        if requireZeroHostBits && address.masked(to: length) != address { return nil }
        self.init(address: address, prefixLength: length)
    }

    /// The subnet ID: the first address, which is all Configuration Manager publishes for a subnet boundary.
    public var subnetID: IPv4Address { address.masked(to: prefixLength) }

    /// How many addresses it holds.
    public var span: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// An inclusive range of IPv4 addresses, `10.20.0.1-10.20.3.254`.
public struct IPv4Range: Hashable, Sendable, CustomStringConvertible {
    public let low: IPv4Address
    public let high: IPv4Address

    public init?(low: IPv4Address, high: IPv4Address) {
        guard low <= high else { return nil }
        self.low = low
        self.high = high
    }

    /// Parses `low-high`; nil when either address is malformed. `low > high` is reported by validation, so it
    /// parses into `nil` only through `init(low:high:)`.
    public static func parse(_ text: some StringProtocol) -> (low: IPv4Address, high: IPv4Address)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = IPv4Address(parts[0]), let high = IPv4Address(parts[1]) else { return nil }
        return (low, high)
    }

    public func contains(_ address: IPv4Address) -> Bool { low <= address && address <= high }

    public var span: UInt64 { UInt64(high.value) - UInt64(low.value) + 1 }

    public var description: String { "\(low)-\(high)" }

    /// The fewest CIDR blocks that exactly tile the range (at most 62). An address lies in the range exactly
    /// when one of its 33 prefixes, `a/32` … `0.0.0.0/0`, is one of these blocks: that is how a directory finds
    /// every range containing an address with equality filters only.
    public var cidrBlocks: [IPv4Network] {
        var blocks: [IPv4Network] = []
        var start = UInt64(low.value)
        let end = UInt64(high.value)
        while start <= end {
            var length = 32
            // Grow the block while it stays aligned at `start` and inside the range.
            while length > 0 {
                let size = UInt64(1) << UInt64(33 - length)
                if start % size != 0 || start + size - 1 > end { break }
                length -= 1
            }
            blocks.append(IPv4Network(address: IPv4Address(UInt32(start)), prefixLength: length))
            start += UInt64(1) << UInt64(32 - length)
        }
        return blocks
    }
}

extension IPv4Address {
    /// The 33 networks that contain the address, from `/32` to `/0`.
    public var enclosingNetworks: [IPv4Network] {
        (0...32).reversed().map { IPv4Network(address: masked(to: $0), prefixLength: $0) }
    }
}

/// An IPv6 address.
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The eight 16-bit groups.
    public let groups: [UInt16]

    public init(groups: [UInt16]) {
        precondition(groups.count == 8)
        self.groups = groups
    }

    /// Parses the text forms of RFC 4291 (with `::`; no embedded IPv4, no zone).
    public init?(_ text: some StringProtocol) {
        let string = String(text)
        var halves = [string]
        if let compression = string.firstRange(of: "::") {
            halves = [String(string[..<compression.lowerBound]), String(string[compression.upperBound...])]
            if halves[1].contains("::") { return nil }
        }
        guard !string.isEmpty else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            for piece in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit),
                    let value = UInt16(piece, radix: 16)
                else { return nil }
                result.append(value)
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            self.groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard head.count == 8 else { return nil }
            self.groups = head
        }
    }

    public func masked(to prefixLength: Int) -> IPv6Address {
        var result = groups
        for index in 0..<8 {
            let bitsKept = max(0, min(16, prefixLength - index * 16))
            result[index] = bitsKept == 0 ? 0 : result[index] & ~UInt16(0) << UInt16(16 - bitsKept)
        }
        return IPv6Address(groups: result)
    }

    /// The RFC 5952 form: lower case, no leading zeros, the longest run of two or more zero groups as `::`.
    public var description: String {
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > bestLength && end - index >= 2 {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        let text = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return text.joined(separator: ":") }
        return text[..<bestStart].joined(separator: ":") + "::"
            + text[(bestStart + bestLength)...].joined(separator: ":")
    }
}

extension IPv6Address {
    /// The 129 networks that contain the address, from `/128` to `/0`.
    public var enclosingNetworks: [IPv6Network] {
        (0...128).reversed().map { IPv6Network(address: masked(to: $0), prefixLength: $0) }
    }
}

/// An IPv6 prefix, `2001:db8:10::/64`.
public struct IPv6Network: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv6Address
    public let prefixLength: Int

    public init(address: IPv6Address, prefixLength: Int) {
        precondition((0...128).contains(prefixLength))
        self.address = address
        self.prefixLength = prefixLength
    }

    public init?(_ text: some StringProtocol, requireZeroHostBits: Bool = true) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv6Address(parts[0]), parts[1].allSatisfy(\.isASCIIDigitCharacter),
            let length = Int(parts[1]), (0...128).contains(length)
        else { return nil }
        if requireZeroHostBits && address.masked(to: length) != address { return nil }
        self.init(address: address, prefixLength: length)
    }

    /// `network/len` in RFC 5952 form, as published in `mSSMSRoamingBoundaries`.
    public var description: String { "\(address.masked(to: prefixLength))/\(prefixLength)" }
}

extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
