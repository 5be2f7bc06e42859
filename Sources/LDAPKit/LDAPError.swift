/// The operations whose failures an ``LDAPError`` reports.
public enum LDAPOperation: String, Sendable {
    case connect, startTLS, bind, search, add, modify, delete, compare
}

/// A failed LDAP operation: what was attempted, against which server, and what came back.
///
/// It never holds a credential. Search filters are left out of `description` (they may carry user data) and kept
/// for `debugDescription`.
public struct LDAPError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The result code the server sent, or the client-side code libldap reported.
    public var code: LDAPResultCode
    /// The operation that failed.
    public var operation: LDAPOperation
    /// The entry the operation was about (the search base for a search, the bind DN for a bind).
    public var dn: String?
    /// The server's diagnostic message (`LDAP_OPT_DIAGNOSTIC_MESSAGE`), when it sent one.
    public var diagnosticMessage: String?
    /// The matched DN the server returned with `noSuchObject`: the deepest entry that does exist.
    public var matchedDN: String?
    /// The server the operation went to.
    public var server: LDAPURI?
    /// For a connection tried against several URIs: how each attempt failed, in order.
    public var attempts: [LDAPError]
    /// The filter of a failed search; only in `debugDescription`.
    public var filter: String?

    public init(
        code: LDAPResultCode,
        operation: LDAPOperation,
        dn: String? = nil,
        diagnosticMessage: String? = nil,
        matchedDN: String? = nil,
        server: LDAPURI? = nil,
        attempts: [LDAPError] = [],
        filter: String? = nil
    ) {
        self.code = code
        self.operation = operation
        self.dn = dn
        self.diagnosticMessage = diagnosticMessage.flatMap { $0.isEmpty ? nil : $0 }
        self.matchedDN = matchedDN.flatMap { $0.isEmpty ? nil : $0 }
        self.server = server
        self.attempts = attempts
        self.filter = filter
    }

    public var description: String {
        var text = "\(operation.rawValue)"
        if let dn { text += " of '\(dn)'" }
        if let server { text += " on \(server)" }
        text += " failed: \(code)"
        if let diagnosticMessage { text += "; server said: \(diagnosticMessage)" }
        if let matchedDN { text += "; deepest existing entry: '\(matchedDN)'" }
        if !attempts.isEmpty {
            text +=
                "; tried " + attempts.map { "\($0.server?.description ?? "?") (\($0.code))" }.joined(separator: ", ")
        }
        return text
    }

    public var debugDescription: String {
        filter.map { description + "; filter \($0)" } ?? description
    }
}
