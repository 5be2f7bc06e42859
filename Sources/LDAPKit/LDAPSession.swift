/// Synchronous access to a connection, inside ``LDAPConnection/withSession(_:)`` only: every call runs on the
/// connection's own thread and waits for its answer there (at most the connection's operation timeout).
public struct LDAPSession {
    let handle: LDAPHandle
    let timeout: Duration

    /// Searches (`ldap_search_ext` and `ldap_result` for that request).
    public func search(_ request: LDAPSearchRequest) throws(LDAPError) -> LDAPSearchResult {
        try handle.searchToEnd(request, timeout: timeout)
    }

    /// Searches and returns every entry found.
    public func search(
        base: DistinguishedName,
        scope: SearchScope = .subtree,
        filter: LDAPFilter = .everything,
        attributes: [String] = []
    ) throws(LDAPError) -> [LDAPEntry] {
        try search(LDAPSearchRequest(base: base, scope: scope, filter: filter, attributes: attributes)).entries
    }

    /// The server's subschema, as ``LDAPConnection/subschema()`` reads it; without `attributeTypes`, only the
    /// object classes (enough to tell whether a schema extension is there, at a fraction of the transfer).
    public func subschema(attributeTypes: Bool = true) throws(LDAPError) -> Subschema {
        let root = try search(Subschema.rootRequest).entries.first
        let request = try Subschema.request(root: root, server: handle.uri, attributeTypes: attributeTypes)
        return try Subschema(from: try search(request).entries, request: request, server: handle.uri)
    }
}
