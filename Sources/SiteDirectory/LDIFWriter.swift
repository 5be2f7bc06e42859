import Foundation
import LDAPKit

/// Writes changes as LDIF (RFC 2849), as `ldapmodify` reads them; unsafe values are base64-encoded.
public enum LDIFWriter {
    public static func ldif(_ changes: [DirectoryChange]) -> String {
        changes.map(record).joined(separator: "\n")
    }

    /// The entries as plain content records, for `ldapadd`.
    public static func ldif(entries: [DesiredEntry]) -> String {
        entries.map { entry in
            ([line("dn", entry.dn.string)] + entry.attributes.flatMap(lines)).joined(separator: "\n") + "\n"
        }.joined(separator: "\n")
    }

    private static func record(_ change: DirectoryChange) -> String {
        var lines = [line("dn", change.dn.string)]
        switch change {
        case .add(let entry):
            lines.append("changetype: add")
            lines += entry.attributes.flatMap(Self.lines)
        case .modify(_, let modifications):
            lines.append("changetype: modify")
            for modification in modifications {
                let operation =
                    switch modification.operation {
                    case .add: "add"
                    case .delete: "delete"
                    case .replace: "replace"
                    }
                lines.append("\(operation): \(modification.attribute.name)")
                lines += Self.lines(modification.attribute)
                lines.append("-")
            }
        case .delete:
            lines.append("changetype: delete")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func lines(_ attribute: LDAPAttribute) -> [String] {
        attribute.values.map { line(attribute.name, bytes: $0) }
    }

    private static func line(_ name: String, _ value: String) -> String {
        line(name, bytes: Array(value.utf8))
    }

    /// `name: value`, or `name:: base64` when the value is not a SAFE-STRING.
    private static func line(_ name: String, bytes: [UInt8]) -> String {
        let safe =
            bytes.allSatisfy { $0 > 0 && $0 < 0x80 && $0 != 0x0A && $0 != 0x0D }
            && bytes.first.map { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "<") } ?? true
            && bytes.last != UInt8(ascii: " ")
        return safe
            ? "\(name): \(String(decoding: bytes, as: UTF8.self))" : "\(name):: \(Data(bytes).base64EncodedString())"
    }
}
