#if canImport(Glibc)
import Glibc
#endif

/// A keytab holds a machine's keys: like ssh with a private key, one that others can read or that is not a regular
/// file is refused before anything is sent.
enum Keytab {
    static func checkPrivate(_ path: String, for server: LDAPURI) throws(LDAPError) {
        var status = stat()
        let refusal: String?
        if lstat(path, &status) != 0 {
            refusal = "the keytab \(path) cannot be read: \(String(cString: strerror(errno)))"
        } else if status.st_mode & S_IFMT != S_IFREG {
            refusal = "the keytab \(path) is not a regular file"
        } else if status.st_mode & 0o077 != 0 {
            refusal =
                "the keytab \(path) is readable by others (mode \(String(status.st_mode & 0o777, radix: 8)));"
                + " expected mode 600: chmod 600 \(path)"
        } else {
            refusal = nil
        }
        if let refusal {
            throw LDAPError(code: .paramError, operation: .bind, diagnosticMessage: refusal, server: server)
        }
    }
}
