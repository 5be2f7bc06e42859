/// The one rule for Configuration Manager object ids (packages, advertisements): eight ASCII characters, the code of
/// the site that made the object (three characters A-Z or 0-9) and five hexadecimal digits, upper case, such as
/// `CEN00001`. The hierarchy file adds that a package's id starts with its own source site's code.
public enum ObjectIDRule {
    public static let expected = "eight characters: a site code then five hexadecimal digits, such as CEN00001"

    /// Whether `text` is an id exactly as it must stand in anything received (upper case, nothing mapped).
    public static func isValid(exactly text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 8 && bytes.prefix(3).allSatisfy { ASCII.isUpper($0) || ASCII.isDigit($0) }
            && bytes.dropFirst(3).allSatisfy(ASCII.isUpperHex)
    }

    /// The id a person typed (ASCII letters in either case), upper-cased; nil when it is not one.
    static func normalized(_ text: String) -> String? {
        guard text.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        let upper = ASCII.uppercased(text)
        return isValid(exactly: upper) ? upper : nil
    }
}

/// What an object id names; it decides only the words of an error.
public protocol ObjectKind: Sendable {
    /// "package", "advertisement".
    static var name: String { get }
}

public enum PackageKind: ObjectKind { public static let name = "package" }
public enum AdvertisementKind: ObjectKind { public static let name = "advertisement" }

/// A package id. Safe as a file name and in a URL path by construction.
public typealias PackageID = ObjectID<PackageKind>
/// An advertisement id.
public typealias AdvertisementID = ObjectID<AdvertisementKind>

/// An object id of one kind (``ObjectIDRule``): a package's cannot be passed where an advertisement's is wanted.
public struct ObjectID<Kind: ObjectKind>: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// An id as a person types it: ASCII letters in either case.
    public init(_ text: String) throws(ObjectIDError) {
        guard let id = ObjectIDRule.normalized(text) else { throw ObjectIDError(object: Kind.name, text: text) }
        rawValue = id
    }

    /// An id exactly as it must stand in a job, a request or a record: upper case, nothing mapped.
    public init(exactly text: String) throws(ObjectIDError) {
        guard ObjectIDRule.isValid(exactly: text) else { throw ObjectIDError(object: Kind.name, text: text) }
        rawValue = text
    }

    /// The code of the site that made the object, as its id spells it.
    public var siteCodePrefix: Substring { rawValue.prefix(3) }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Text that is not an object id; it quotes at most 40 characters of what was given, control characters escaped.
public struct ObjectIDError: KindedError {
    public var kind: FailureKind { .badInput }
    /// What the id was to name: "package" or "advertisement".
    public let object: String
    public let text: String
    public var description: String {
        "'\(UntrustedText.escape(String(text.prefix(40))))' is not \(object == "advertisement" ? "an" : "a") \(object) id; expected "
            + ObjectIDRule.expected
    }
}
