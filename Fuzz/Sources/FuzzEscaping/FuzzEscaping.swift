import FuzzDriver
import LDAPKit

/// Any text as an attribute value: escaped into a filter (RFC 4515) it holds no character that would end or
/// change the filter and decodes back to the same bytes; as an RDN value in a DN (RFC 4514) it parses back to the
/// same value. Any text as a DN: it parses or is refused, and what parses renders to text that parses the same.
@main struct FuzzEscapingMain {
    static func main() { runFuzzer(fuzzEscaping) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEscaping(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let text = String(decoding: bytes, as: UTF8.self)

    let escaped = LDAPFilter.escape(text)
    precondition(!escaped.contains(where: { "()*\0".contains($0) }), "unescaped special character in \(escaped)")
    precondition(decodeFilterValue(escaped) == Array(text.utf8), "filter escaping does not round-trip: \(escaped)")

    let dn = DistinguishedName.root.child("cn", text)
    if let parsed = try? DistinguishedName(parsing: dn.string) {
        precondition(parsed == dn, "DN escaping does not round-trip: \(dn.string)")
    } else {
        preconditionFailure("a DN siteloc built does not parse: \(dn.string)")
    }

    if let parsed = try? DistinguishedName(parsing: text) {
        let again = try? DistinguishedName(parsing: parsed.string)
        precondition(again == parsed, "a parsed DN renders to text that parses otherwise: \(parsed.string)")
    }
    return 0
}

/// `\XX` back to bytes; nil when a backslash is not followed by two hex digits.
func decodeFilterValue(_ escaped: String) -> [UInt8]? {
    var result: [UInt8] = []
    var bytes = Array(escaped.utf8)[...]
    while let byte = bytes.popFirst() {
        guard byte == UInt8(ascii: "\\") else {
            result.append(byte)
            continue
        }
        guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else {
            return nil
        }
        result.append(value)
        bytes = bytes.dropFirst(2)
    }
    return result
}
