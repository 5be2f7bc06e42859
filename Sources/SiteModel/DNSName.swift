/// DNS host and domain names as the hierarchy uses them: dot-separated labels of ASCII letters, digits and hyphens,
/// each 1 to 63 characters and not starting or ending with a hyphen, 253 characters in all. Compared lower-cased.
/// Checked before anything is lower-cased, so no Unicode case mapping (`K`, the Kelvin sign, to `k`) can turn other
/// text into a name.
public enum DNSName {
    /// The name lower-cased, or nil when `text` is not a DNS name.
    public static func normalized(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return nil }
        var labelLength = 0
        var previous: UInt8 = UInt8(ascii: ".")
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0, previous != UInt8(ascii: "-") else { return nil }
                labelLength = 0
            } else {
                guard ASCII.isLetterOrDigit(byte) || (byte == UInt8(ascii: "-") && labelLength > 0) else { return nil }
                labelLength += 1
                guard labelLength <= 63 else { return nil }
            }
            previous = byte
        }
        guard labelLength > 0, previous != UInt8(ascii: "-") else { return nil }
        return ASCII.lowercased(text)
    }

    /// The first label: a host's computer name.
    public static func firstLabel(_ name: String) -> Substring {
        name.prefix { $0 != "." }
    }
}
