/// One attribute of an entry: its name and its values, as bytes.
public struct LDAPAttribute: Hashable, Sendable {
    public var name: String
    public var values: [[UInt8]]

    public init(_ name: String, values: [[UInt8]]) {
        precondition(AttributeDescription.isValid(name), "'\(name)' is not an attribute description")
        self.name = name
        self.values = values
    }

    public init(_ name: String, _ values: [String]) {
        self.init(name, values: values.map { Array($0.utf8) })
    }

    public init(_ name: String, _ value: String) {
        self.init(name, [value])
    }

    /// The values read as UTF-8 text.
    public var stringValues: [String] {
        values.map { String(decoding: $0, as: UTF8.self) }
    }
}

/// An entry returned by a search.
public struct LDAPEntry: Hashable, Sendable {
    /// The DN as the server returned it.
    public var dn: String
    /// The attributes in the order the server returned them.
    public var attributes: [LDAPAttribute]

    public init(dn: String, attributes: [LDAPAttribute]) {
        self.dn = dn
        self.attributes = attributes
    }

    /// The DN, parsed.
    public var distinguishedName: DistinguishedName {
        get throws(DistinguishedNameError) { try DistinguishedName(parsing: dn) }
    }

    /// The attribute of that name, compared case-insensitively as LDAP does.
    public func attribute(_ name: String) -> LDAPAttribute? {
        attributes.first { $0.name.caseInsensitiveEquals(name) }
    }

    /// The values of an attribute as text; empty when the entry does not have it.
    public subscript(_ name: String) -> [String] {
        attribute(name)?.stringValues ?? []
    }

    /// The first value of an attribute as text.
    public func first(_ name: String) -> String? {
        self[name].first
    }
}

/// A change to one attribute, for ``LDAPConnection/modify(_:_:)``.
public struct LDAPModification: Hashable, Sendable {
    public enum Operation: Sendable {
        /// Adds values (`LDAP_MOD_ADD`).
        case add
        /// Deletes the values, or the whole attribute when there are none (`LDAP_MOD_DELETE`).
        case delete
        /// Replaces all values; no values removes the attribute (`LDAP_MOD_REPLACE`).
        case replace
    }

    public var operation: Operation
    public var attribute: LDAPAttribute

    public init(_ operation: Operation, _ attribute: LDAPAttribute) {
        self.operation = operation
        self.attribute = attribute
    }

    public static func add(_ name: String, _ values: [String]) -> Self { Self(.add, LDAPAttribute(name, values)) }
    public static func delete(_ name: String, _ values: [String] = []) -> Self {
        Self(.delete, LDAPAttribute(name, values))
    }
    public static func replace(_ name: String, _ values: [String]) -> Self {
        Self(.replace, LDAPAttribute(name, values))
    }
}

/// How far below the base a search looks.
public enum SearchScope: Sendable {
    /// The base entry only (`LDAP_SCOPE_BASE`).
    case base
    /// The entries directly below the base (`LDAP_SCOPE_ONELEVEL`).
    case oneLevel
    /// The base and everything below it (`LDAP_SCOPE_SUBTREE`).
    case subtree
}

/// A search, for ``LDAPConnection/search(_:)``.
public struct LDAPSearchRequest: Hashable, Sendable {
    public var base: DistinguishedName
    public var scope: SearchScope
    public var filter: LDAPFilter
    /// The attributes to return; empty means all user attributes. Operational attributes must be named.
    public var attributes: [String]
    /// The most entries the server should return; 0 means the server's own limit.
    public var sizeLimit: Int
    /// With a value, the search asks for one page of this many entries (simple paged results, RFC 2696).
    public var pageSize: Int?
    /// The cookie of the previous page, to ask for the next one.
    public var pageCookie: [UInt8]?

    public init(
        base: DistinguishedName,
        scope: SearchScope = .subtree,
        filter: LDAPFilter = .everything,
        attributes: [String] = [],
        sizeLimit: Int = 0,
        pageSize: Int? = nil,
        pageCookie: [UInt8]? = nil
    ) {
        for attribute in attributes {
            precondition(
                attribute == "*" || attribute == "+" || attribute == "1.1" || AttributeDescription.isValid(attribute),
                "'\(attribute)' is not an attribute description"
            )
        }
        self.base = base
        self.scope = scope
        self.filter = filter
        self.attributes = attributes
        self.sizeLimit = sizeLimit
        self.pageSize = pageSize
        self.pageCookie = pageCookie
    }
}

/// What a search returned.
public struct LDAPSearchResult: Hashable, Sendable {
    public var entries: [LDAPEntry]
    /// For a paged search: the cookie that asks for the next page, or nil when this was the last one.
    public var nextPageCookie: [UInt8]?
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && lowercased() == other.lowercased()
    }
}
