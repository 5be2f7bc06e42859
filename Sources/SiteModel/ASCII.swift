/// Byte classes and case mapping of ASCII text. Identifiers that cross a boundary — site codes, job and package
/// ids, DNS names, digests — are checked and mapped with these, never with Unicode's rules, so that no letter of
/// another script (`ß` → `SS`, the Kelvin sign → `k`) can turn into one of them.
public enum ASCII {
    public static func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }
    public static func isUpper(_ byte: UInt8) -> Bool { (65...90).contains(byte) }
    public static func isLower(_ byte: UInt8) -> Bool { (97...122).contains(byte) }
    public static func isLetterOrDigit(_ byte: UInt8) -> Bool { isDigit(byte) || isUpper(byte) || isLower(byte) }
    /// 0-9 and a-f: a digest as siteloc writes it.
    public static func isLowerHex(_ byte: UInt8) -> Bool { isDigit(byte) || (97...102).contains(byte) }
    /// 0-9 and A-F: the digits of an object id.
    public static func isUpperHex(_ byte: UInt8) -> Bool { isDigit(byte) || (65...70).contains(byte) }

    /// `text` with a-z mapped to A-Z and every other byte kept.
    public static func uppercased(_ text: String) -> String {
        String(decoding: text.utf8.map { isLower($0) ? $0 - 32 : $0 }, as: UTF8.self)
    }

    /// `text` with A-Z mapped to a-z and every other byte kept.
    public static func lowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { isUpper($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
