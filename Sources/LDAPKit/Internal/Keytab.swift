import Foundation

/// A keytab holds a machine's keys: like ssh with a private key, one that others can read or that is not a regular
/// file is refused before anything is sent.
enum Keytab {
    static func checkPrivate(_ path: String, for server: LDAPURI) throws(LDAPError) {
        let refusal: String?
        // attributesOfItem does not follow a symbolic link: one is reported as what it is.
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path) {
            let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
            if attributes[.type] as? FileAttributeType != .typeRegular {
                refusal = "the keytab \(path) is not a regular file"
            } else if mode & 0o077 != 0 {
                refusal =
                    "the keytab \(path) is readable by others (mode \(String(mode, radix: 8))); expected mode 600:"
                    + " chmod 600 \(path)"
            } else {
                refusal = nil
            }
        } else {
            refusal = "the keytab \(path) cannot be read"
        }
        if let refusal {
            throw LDAPError(code: .paramError, operation: .bind, diagnosticMessage: refusal, server: server)
        }
    }
}
