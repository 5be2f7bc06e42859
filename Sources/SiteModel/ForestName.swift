/// The DNS name of a forest root domain, such as `corp.contoso.com`: dot-separated labels of letters, digits and
/// hyphens. Stored lower-cased, since DNS names compare case-insensitively.
public struct ForestName: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String

    public init(_ text: String) throws(ForestNameError) {
        guard let name = DNSName.normalized(text) else { throw ForestNameError(text: text) }
        rawValue = name
    }

    /// The labels, most specific first: `["corp", "contoso", "com"]`.
    public var labels: [String] { rawValue.split(separator: ".").map(String.init) }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try ForestName(text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public struct ForestNameError: KindedError {
    public var kind: FailureKind { .badInput }
    public let text: String
    public var description: String {
        "'\(text)' is not a forest name; expected a DNS domain name such as corp.contoso.com (labels of letters, digits and hyphens)"
    }
}
