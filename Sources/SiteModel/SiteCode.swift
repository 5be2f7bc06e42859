/// A Configuration Manager site code: exactly three characters A–Z and 0–9, not one of the reserved names.
public struct SiteCode: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public static let reserved: Set<String> = ["AUX", "CON", "NUL", "PRN", "SMS"]

    public let rawValue: String

    public init(_ text: String) throws(SiteCodeError) {
        let upper = text.uppercased()
        guard upper.utf8.count == 3,
            upper.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) })
        else { throw SiteCodeError(text: text, reason: "expected exactly 3 characters A-Z or 0-9") }
        guard !Self.reserved.contains(upper) else {
            throw SiteCodeError(text: text, reason: "is reserved (AUX, CON, NUL, PRN and SMS cannot be site codes)")
        }
        rawValue = upper
    }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self = try SiteCode(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public struct SiteCodeError: Error, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "'\(text)' is not a site code: \(reason)" }
}
