/// One `type=value` pair of a relative distinguished name.
public struct AttributeTypeAndValue: Hashable, Sendable {
    public var type: String
    public var value: String

    public init(_ type: String, _ value: String) {
        precondition(AttributeDescription.isValid(type), "'\(type)' is not an attribute type")
        self.type = type
        self.value = value
    }
}

/// A relative distinguished name: one or more `type=value` pairs joined by `+`.
public struct RelativeDistinguishedName: Hashable, Sendable {
    public var attributes: [AttributeTypeAndValue]

    public init(_ attributes: [AttributeTypeAndValue]) {
        precondition(!attributes.isEmpty, "an RDN has at least one attribute")
        self.attributes = attributes
    }

    public init(_ type: String, _ value: String) {
        self.init([AttributeTypeAndValue(type, value)])
    }

    /// The value of the first pair: `SMS-Site-CEN` for `cn=SMS-Site-CEN`.
    public var value: String { attributes[0].value }

    /// The RDN in the string form of RFC 4514, with every value escaped.
    public var string: String {
        attributes.map { $0.type + "=" + DistinguishedName.escape($0.value) }.joined(separator: "+")
    }
}

/// A distinguished name, held as its parts and written out in the string form of RFC 4514 with every value
/// escaped, so that no value can add or change a component.
public struct DistinguishedName: Hashable, Sendable, CustomStringConvertible {
    /// The RDNs, most specific first (`cn=x` of `cn=x,dc=corp,dc=com`).
    public var rdns: [RelativeDistinguishedName]

    public init(_ rdns: [RelativeDistinguishedName]) {
        self.rdns = rdns
    }

    /// The empty DN (the root DSE).
    public static let root = DistinguishedName([])

    /// Parses the string form of RFC 4514, as servers return it.
    public init(parsing string: String) throws(DistinguishedNameError) {
        var parser = DistinguishedNameParser(string)
        rdns = try parser.parse()
    }

    /// The DN of the entry `type=value` directly below this one.
    public func child(_ type: String, _ value: String) -> DistinguishedName {
        DistinguishedName([RelativeDistinguishedName(type, value)] + rdns)
    }

    /// The DN of the entry above, or nil for the root.
    public var parent: DistinguishedName? {
        rdns.isEmpty ? nil : DistinguishedName(Array(rdns.dropFirst()))
    }

    /// The string form of RFC 4514.
    public var string: String {
        rdns.map(\.string).joined(separator: ",")
    }

    public var description: String { string }

    /// A form for comparing DNs whose attribute types and values match case-insensitively (as every attribute
    /// siteloc names in DNs does): lower-cased types and values.
    public var caseInsensitiveKey: String {
        rdns.map { rdn in
            rdn.attributes.map { $0.type.lowercased() + "=" + DistinguishedName.escape($0.value.lowercased()) }
                .sorted().joined(separator: "+")
        }.joined(separator: ",")
    }

    /// Whether this DN lies below `ancestor` (or is it), comparing case-insensitively.
    public func isWithin(_ ancestor: DistinguishedName) -> Bool {
        guard ancestor.rdns.count <= rdns.count else { return false }
        let tail = DistinguishedName(Array(rdns.suffix(ancestor.rdns.count)))
        return tail.caseInsensitiveKey == ancestor.caseInsensitiveKey
    }

    /// Escapes an attribute value for a DN (RFC 4514 section 2.4): `"`, `+`, `,`, `;`, `<`, `>`, `\` and `=` get
    /// a backslash, as do a leading `#` or space and a trailing space; NUL and other control characters become
    /// `\XX`. Other UTF-8 text stays as it is.
    public static func escape(_ value: String) -> String {
        var text = value
        let plain = text.withUTF8 { bytes in
            guard let first = bytes.first, let last = bytes.last else { return true }
            return first != UInt8(ascii: "#") && first != UInt8(ascii: " ") && last != UInt8(ascii: " ")
                && !bytes.contains { byte in
                    byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "+")
                        || byte == UInt8(ascii: ",") || byte == UInt8(ascii: ";") || byte == UInt8(ascii: "<")
                        || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "=")
                }
        }
        if plain { return value }
        let bytes = Array(value.utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count + 4)
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "<"),
                UInt8(ascii: ">"), UInt8(ascii: "\\"), UInt8(ascii: "="):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case UInt8(ascii: "#") where index == 0:
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case UInt8(ascii: " ") where index == 0 || index == bytes.count - 1:
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0x00..<0x20, 0x7F:
                let digits = Array("0123456789ABCDEF".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A DN string that does not follow RFC 4514.
public struct DistinguishedNameError: Error, CustomStringConvertible {
    public let dn: String
    public let reason: String
    public var description: String {
        "'\(dn)' is not a distinguished name: \(reason); expected type=value pairs separated by commas, e.g. cn=x,dc=corp,dc=com"
    }
}

private struct DistinguishedNameParser {
    let text: String
    let bytes: [UInt8]
    var index = 0

    init(_ text: String) {
        self.text = text
        bytes = Array(text.utf8)
    }

    mutating func parse() throws(DistinguishedNameError) -> [RelativeDistinguishedName] {
        var rdns: [RelativeDistinguishedName] = []
        skipSpaces()
        guard index < bytes.count else { return [] }
        var pairs: [AttributeTypeAndValue] = []
        while true {
            skipSpaces()
            let type = try parseType()
            skipSpaces()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                throw failure("expected '=' after '\(type)'")
            }
            index += 1
            let value = try parseValue()
            pairs.append(AttributeTypeAndValue(type, value))
            guard index < bytes.count else {
                rdns.append(RelativeDistinguishedName(pairs))
                return rdns
            }
            switch bytes[index] {
            case UInt8(ascii: "+"):
                index += 1
            case UInt8(ascii: ","), UInt8(ascii: ";"):
                index += 1
                rdns.append(RelativeDistinguishedName(pairs))
                pairs = []
            default:
                throw failure("unexpected character at offset \(index)")
            }
        }
    }

    mutating func skipSpaces() {
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
    }

    mutating func parseType() throws(DistinguishedNameError) -> String {
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: " ") { index += 1 }
        let type = String(decoding: bytes[start..<index], as: UTF8.self)
        guard AttributeDescription.isValid(type) else { throw failure("'\(type)' is not an attribute type") }
        return type
    }

    mutating func parseValue() throws(DistinguishedNameError) -> String {
        var out: [UInt8] = []
        var lastEscapedLength = 0  // trailing spaces that were escaped must stay
        if index < bytes.count, bytes[index] == UInt8(ascii: "#") {
            // The BER form is kept as written.
            while index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: "+") {
                out.append(bytes[index])
                index += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ";") { break }
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard index < bytes.count else { throw failure("the value ends with a lone backslash") }
                if let high = hexValue(bytes[index]), index + 1 < bytes.count, let low = hexValue(bytes[index + 1]) {
                    out.append(high << 4 | low)
                    index += 2
                } else {
                    out.append(bytes[index])
                    index += 1
                }
                lastEscapedLength = out.count
                continue
            }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == 0 {
                throw failure("unescaped special character in a value")
            }
            out.append(byte)
            index += 1
        }
        while out.count > lastEscapedLength, out.last == UInt8(ascii: " ") { out.removeLast() }
        guard let value = String(validating: out, as: UTF8.self) else { throw failure("a value is not UTF-8") }
        return value
    }

    func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    func failure(_ reason: String) -> DistinguishedNameError {
        DistinguishedNameError(dn: text, reason: reason)
    }
}
