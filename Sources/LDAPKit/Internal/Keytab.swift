import SystemCalls

/// A keytab holds a machine's keys: one that others can read is refused before anything is sent.
enum Keytab {
    static func checkPrivate(_ path: String, for server: LDAPURI) throws(LDAPError) {
        guard let refusal = OwnerOnlyFile.refusal(path) else { return }
        throw LDAPError(
            code: .paramError,
            operation: .bind,
            diagnosticMessage: OwnerOnlyFile.describe(refusal, "the keytab \(path)", path: path),
            server: server
        )
    }
}
