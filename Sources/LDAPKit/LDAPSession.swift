/// Synchronous access to a connection, inside ``LDAPConnection/withSession(_:)`` only: every call runs on the
/// connection's own thread and waits for its answer there (at most the connection's operation timeout).
public struct LDAPSession {
    let handle: LDAPHandle
    let timeout: Duration
    /// What happened to each of the configuration's URIs while connecting, in their order.
    public let attempts: [LDAPConnectAttempt]

    /// The server this session talks to.
    public var server: LDAPURI { handle.uri }

    /// Searches (`ldap_search_ext` and `ldap_result` for that request).
    public func search(_ request: LDAPSearchRequest) throws(LDAPError) -> LDAPSearchResult {
        try handle.searchToEnd(request, timeout: timeout)
    }

    /// Searches with simple paged results (RFC 2696), a page of `request.pageSize` entries (500 if it has none)
    /// at a time, and returns all of them, as ``LDAPConnection/searchAllPages(base:scope:filter:attributes:pageSize:)``.
    public func searchAllPages(_ request: LDAPSearchRequest) throws(LDAPError) -> [LDAPEntry] {
        var request = request
        request.pageSize = request.pageSize ?? 500
        var entries: [LDAPEntry] = []
        while true {
            let page = try search(request)
            entries += page.entries
            guard let cookie = page.nextPageCookie else { return entries }
            request.pageCookie = cookie
        }
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

    /// Whether the server's subschema defines every one of these object classes (names or OIDs). It first asks the
    /// server to match them (`objectClasses` has `objectIdentifierFirstComponentMatch` equality, RFC 4517), which
    /// answers in a few bytes; only when that finds nothing, which also happens on servers that cannot match on the
    /// subschema, does it read the object classes and look.
    public func definesObjectClasses(_ names: [String]) throws(LDAPError) -> Bool {
        let root = try search(Subschema.rootRequest).entries.first
        var request = try Subschema.request(root: root, server: handle.uri, attributeTypes: false)
        let full = request
        request.filter = .and([request.filter] + names.map { .equal("objectClasses", $0) })
        request.attributes = ["1.1"]  // no attributes (RFC 4511)
        if try !search(request).entries.isEmpty { return true }
        return try Subschema(from: try search(full).entries, request: full, server: handle.uri)
            .defines(objectClasses: names)
    }
}
