/// The attribute types and object classes a server knows, read from its subschema entry.
public struct Subschema: Sendable, Hashable {
    /// One definition: its OID and names.
    public struct Element: Sendable, Hashable {
        public var oid: String
        public var names: [String]
        /// The definition as the server wrote it (RFC 4512).
        public var definition: String
    }

    /// The definitions as the server sent them; parsed only when looked up.
    public let attributeTypeDefinitions: [String]
    public let objectClassDefinitions: [String]

    /// The root DSE read that names the subschema entry.
    static let rootRequest = LDAPSearchRequest(base: .root, scope: .base, attributes: ["subschemaSubentry"])

    /// The read of the subschema entry the root DSE names (`cn=Subschema` when it names none).
    static func request(
        root: LDAPEntry?,
        server: LDAPURI?,
        attributeTypes: Bool = true
    ) throws(LDAPError) -> LDAPSearchRequest {
        let location = root?.first("subschemaSubentry") ?? "cn=Subschema"
        do {
            return LDAPSearchRequest(
                base: try DistinguishedName(parsing: location),
                scope: .base,
                filter: .equal("objectClass", "subschema"),
                attributes: attributeTypes ? ["attributeTypes", "objectClasses"] : ["objectClasses"]
            )
        } catch {
            throw LDAPError(code: .invalidDNSyntax, operation: .search, dn: location, server: server)
        }
    }

    init(from entries: [LDAPEntry], request: LDAPSearchRequest, server: LDAPURI?) throws(LDAPError) {
        guard let entry = entries.first else {
            throw LDAPError(code: .noSuchObject, operation: .search, dn: request.base.string, server: server)
        }
        self.init(entry: entry)
    }

    public init(entry: LDAPEntry) {
        attributeTypeDefinitions = entry["attributeTypes"]
        objectClassDefinitions = entry["objectClasses"]
    }

    /// Every attribute type, parsed.
    public var attributeTypes: [Element] { attributeTypeDefinitions.compactMap(Self.parse) }
    /// Every object class, parsed.
    public var objectClasses: [Element] { objectClassDefinitions.compactMap(Self.parse) }

    /// The object class with this name (compared case-insensitively) or OID.
    public func objectClass(_ nameOrOID: String) -> Element? {
        Self.find(nameOrOID, in: objectClassDefinitions)
    }

    /// Whether every one of these object classes (names or OIDs) is defined.
    public func defines(objectClasses names: [String]) -> Bool {
        names.allSatisfy { objectClass($0) != nil }
    }

    /// The attribute type with this name (compared case-insensitively) or OID.
    public func attributeType(_ nameOrOID: String) -> Element? {
        Self.find(nameOrOID, in: attributeTypeDefinitions)
    }

    /// Parses only the definitions whose text mentions the key: a client checking a few names does not pay for
    /// parsing the hundreds of definitions a server has.
    private static func find(_ key: String, in definitions: [String]) -> Element? {
        let lowered = key.lowercased()
        let needle = Array(lowered.utf8)
        for definition in definitions where containsIgnoringASCIICase(definition, needle) {
            if let element = parse(definition),
                element.oid == key || element.names.contains(where: { $0.lowercased() == lowered })
            {
                return element
            }
        }
        return nil
    }

    /// Whether `text` contains `needle` (already lower-cased), comparing ASCII letters case-insensitively,
    /// without allocating: this runs over every definition a server has.
    private static func containsIgnoringASCIICase(_ text: String, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= needle.count else { return false }
            for start in 0...(bytes.count - needle.count) where lower(bytes[start]) == first {
                var index = 1
                while index < needle.count && lower(bytes[start + index]) == needle[index] { index += 1 }
                if index == needle.count { return true }
            }
            return false
        }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
    }

    /// Reads the OID and the NAME part of `( oid NAME 'x' ... )` or `( oid NAME ( 'x' 'y' ) ... )`.
    static func parse(_ definition: String) -> Element? {
        var tokens = tokenize(definition)[...]
        guard tokens.popFirst() == "(", let oid = tokens.popFirst() else { return nil }
        var names: [String] = []
        while let token = tokens.popFirst() {
            guard token == "NAME" else { continue }
            if tokens.first == "(" {
                tokens.removeFirst()
                while let name = tokens.popFirst(), name != ")" { names.append(name) }
            } else if let name = tokens.popFirst() {
                names.append(name)
            }
            break
        }
        return Element(oid: oid, names: names, definition: definition)
    }

    private static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if quoted {
                if character == "'" {
                    tokens.append(current)
                    current = ""
                    quoted = false
                } else {
                    current.append(character)
                }
            } else if character == "'" {
                quoted = true
            } else if character == "(" || character == ")" {
                if !current.isEmpty { tokens.append(current) }
                current = ""
                tokens.append(String(character))
            } else if character == " " || character == "\n" || character == "\t" {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }
}
