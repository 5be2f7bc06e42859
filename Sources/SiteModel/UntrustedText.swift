/// Text that came from a peer (a service's answer, an error it sent) made safe to print: control characters —
/// C0, DEL, C1 and the Unicode line separators — become `\u{…}` escapes, so that no answer can move a terminal's
/// cursor, colour it, or forge a line of its own.
public enum UntrustedText {
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                escaped += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}"
    }
}
