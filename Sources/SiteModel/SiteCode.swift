/// A Configuration Manager site code: exactly three characters A–Z and 0–9, not one of the reserved names.
public struct SiteCode: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public static let reserved: Set<String> = ["AUX", "CON", "NUL", "PRN", "SMS"]

    public let rawValue: String

    /// A site code as a person types it: ASCII letters in either case and digits. Only ASCII is upper-cased, so
    /// text that becomes a code only through Unicode case mapping (`ßa` → `SSA`) is refused.
    public init(_ text: String) throws(SiteCodeError) {
        guard text.utf8.count == 3, text.utf8.allSatisfy({ Self.isCodeByte($0) || ASCII.isLower($0) })
        else { throw SiteCodeError(text: text, reason: "expected exactly 3 characters A-Z or 0-9") }
        let upper = ASCII.uppercased(text)
        guard !Self.reserved.contains(upper) else {
            throw SiteCodeError(text: text, reason: "is reserved (AUX, CON, NUL, PRN and SMS cannot be site codes)")
        }
        rawValue = upper
    }

    /// A site code exactly as it must stand in a file or message that crosses a site boundary: three characters
    /// A-Z or 0-9, upper case, not reserved. Nothing is mapped, so a received value is either the code or refused.
    public init(exactly text: String) throws(SiteCodeError) {
        guard text.utf8.count == 3, text.utf8.allSatisfy(Self.isCodeByte) else {
            throw SiteCodeError(text: text, reason: "expected exactly 3 characters A-Z or 0-9, upper case")
        }
        try self.init(text)
    }

    /// Stands for a code in a hierarchy file that is not a site code (already reported as an error), so that the
    /// rest of that site is still checked and every mistake is reported at once. Its text is what the file says, so
    /// it never equals a real code; a hierarchy holding one has errors and is never used.
    public init(unreadable text: String) {
        rawValue = String(text.prefix(40))
    }

    private static func isCodeByte(_ byte: UInt8) -> Bool { ASCII.isUpper(byte) || ASCII.isDigit(byte) }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self = try SiteCode(exactly: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public struct SiteCodeError: KindedError {
    public var kind: FailureKind { .badInput }
    public let text: String
    public let reason: String
    public var description: String { "'\(text)' is not a site code: \(reason)" }
}
