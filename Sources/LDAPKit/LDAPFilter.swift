/// A search filter in the string form of RFC 4515, built so that values can never change its structure.
///
/// Build filters from the static functions, or with string interpolation, where every interpolated value is
/// escaped:
///
/// ```swift
/// let filter: LDAPFilter = "(&(objectClass=mSSMSSite)(mSSMSRoamingBoundaries=\(boundary)))"
/// ```
///
/// Only ``init(unsafeRaw:)`` takes filter text as it is; use it for text that is itself a filter, never for values.
public struct LDAPFilter: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The filter text, as sent to the server.
    public let string: String

    /// Takes `string` as filter text without escaping anything.
    public init(unsafeRaw string: String) {
        self.string = string
    }

    public init(stringLiteral value: String) {
        string = value
    }

    public init(stringInterpolation: StringInterpolation) {
        string = stringInterpolation.text
    }

    public var description: String { string }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        public mutating func appendLiteral(_ literal: String) {
            text += literal
        }

        /// Appends a value, escaped.
        public mutating func appendInterpolation(_ value: String) {
            text += LDAPFilter.escape(value)
        }

        /// Appends a binary value, escaped.
        public mutating func appendInterpolation(bytes value: [UInt8]) {
            text += LDAPFilter.escape(bytes: value)
        }

        /// Appends an integer value.
        public mutating func appendInterpolation(_ value: some BinaryInteger) {
            text += String(value)
        }

        /// Appends a whole filter as a component.
        public mutating func appendInterpolation(filter: LDAPFilter) {
            text += filter.string
        }
    }

    // MARK: Building

    /// `(attribute=value)`
    public static func equal(_ attribute: String, _ value: String) -> LDAPFilter {
        simple(attribute, "=", escape(value))
    }

    /// `(attribute=value)` for a binary value.
    public static func equal(_ attribute: String, bytes value: [UInt8]) -> LDAPFilter {
        simple(attribute, "=", escape(bytes: value))
    }

    /// `(attribute>=value)`
    public static func greaterOrEqual(_ attribute: String, _ value: String) -> LDAPFilter {
        simple(attribute, ">=", escape(value))
    }

    /// `(attribute<=value)`
    public static func lessOrEqual(_ attribute: String, _ value: String) -> LDAPFilter {
        simple(attribute, "<=", escape(value))
    }

    /// `(attribute~=value)`
    public static func approximately(_ attribute: String, _ value: String) -> LDAPFilter {
        simple(attribute, "~=", escape(value))
    }

    /// `(attribute=*)`
    public static func present(_ attribute: String) -> LDAPFilter {
        simple(attribute, "=", "*")
    }

    /// `(attribute=initial*any*…*final)`; the pieces are escaped, the stars between them are not.
    public static func substrings(
        _ attribute: String,
        initial: String? = nil,
        any: [String] = [],
        final: String? = nil
    ) -> LDAPFilter {
        precondition(initial != nil || !any.isEmpty || final != nil, "a substring filter needs at least one piece")
        var value = escape(initial ?? "") + "*"
        for piece in any { value += escape(piece) + "*" }
        value += escape(final ?? "")
        return simple(attribute, "=", value)
    }

    /// `(&…)`
    public static func and(_ filters: [LDAPFilter]) -> LDAPFilter {
        LDAPFilter(unsafeRaw: "(&" + filters.map(\.string).joined() + ")")
    }

    /// `(|…)`
    public static func or(_ filters: [LDAPFilter]) -> LDAPFilter {
        LDAPFilter(unsafeRaw: "(|" + filters.map(\.string).joined() + ")")
    }

    /// `(!…)`
    public static func not(_ filter: LDAPFilter) -> LDAPFilter {
        LDAPFilter(unsafeRaw: "(!" + filter.string + ")")
    }

    /// `(objectClass=*)`: every entry.
    public static let everything = present("objectClass")

    private static func simple(_ attribute: String, _ op: String, _ escapedValue: String) -> LDAPFilter {
        precondition(
            AttributeDescription.isValid(attribute),
            "'\(attribute)' is not an attribute description (a name or numeric OID, optionally with options)"
        )
        return LDAPFilter(unsafeRaw: "(" + attribute + op + escapedValue + ")")
    }

    // MARK: Escaping

    /// Escapes a value for use in a filter (RFC 4515 section 3): `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`,
    /// `\29`, `\5c` and `\00`. Other UTF-8 text stays as it is.
    public static func escape(_ value: String) -> String {
        var text = value
        let plain = text.withUTF8 { bytes in
            !bytes.contains { $0 == 0x2A || $0 == 0x28 || $0 == 0x29 || $0 == 0x5C || $0 == 0x00 }
        }
        // A String is valid UTF-8, so without those five bytes there is nothing to escape.
        return plain ? value : escape(bytes: Array(value.utf8))
    }

    /// Escapes a binary value: like ``escape(_:)``, and bytes that are not valid UTF-8 text are escaped as well.
    public static func escape(bytes value: [UInt8]) -> String {
        let validUTF8 = String(validating: value, as: UTF8.self) != nil
        var out = [UInt8]()
        out.reserveCapacity(value.count + 8)
        for byte in value {
            switch byte {
            case 0x2A, 0x28, 0x29, 0x5C, 0x00:
                out.append(contentsOf: hexEscape(byte))
            case 0x80...0xFF where !validUTF8:
                out.append(contentsOf: hexEscape(byte))
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexEscape(_ byte: UInt8) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [UInt8(ascii: "\\"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
    }
}

/// Checks of attribute descriptions (RFC 4512 section 2.5): a name or a numeric OID, with options. Works on the
/// UTF-8 bytes: filters are built on hot paths (a range lookup alone builds 33 equality filters).
enum AttributeDescription {
    static func isValid(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard let first = bytes.first else { return false }
            var index = 0
            // The type: letters, digits and hyphens starting with a letter, or dotted numbers.
            if isLetter(first) {
                while index < bytes.count, isLetter(bytes[index]) || isDigit(bytes[index]) || bytes[index] == 0x2D {
                    index += 1
                }
            } else if isDigit(first) {
                var previousWasDot = true
                while index < bytes.count, isDigit(bytes[index]) || bytes[index] == 0x2E {
                    let isDot = bytes[index] == 0x2E
                    if isDot && previousWasDot { return false }
                    previousWasDot = isDot
                    index += 1
                }
                if previousWasDot { return false }
            } else {
                return false
            }
            // Options: `;` followed by one or more letters, digits or hyphens.
            while index < bytes.count {
                guard bytes[index] == 0x3B else { return false }
                index += 1
                let start = index
                while index < bytes.count, isLetter(bytes[index]) || isDigit(bytes[index]) || bytes[index] == 0x2D {
                    index += 1
                }
                if index == start { return false }
            }
            return true
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}

extension Character {
    var isASCIILetter: Bool { isASCII && isLetter }
    var isASCIIDigit: Bool { isASCII && isNumber }
}
