/// Where a definition comes from; it decides which OID arc it lives under and how it is documented.
public enum SchemaOrigin: String, Sendable {
    /// The Configuration Manager extension (ConfigMgr_ad_schema.LDF), arc 1.2.840.113556.1.6.29.2.
    case configurationManager
    /// Active Directory's own classes and attributes that the extension and the trust rules rest on.
    case activeDirectory
    /// siteloc's own extension, under ``DirectorySchema/projectArc``.
    case siteloc
}

/// The syntaxes the schema uses, with the matching rules that go with each.
public enum AttributeSyntax: Sendable {
    /// Directory String (AD String(Teletex) and String(Unicode)): case-insensitive text.
    case directoryString
    /// Boolean: `TRUE` or `FALSE`.
    case boolean
    /// Integer; `ordered` adds an ordering rule (for the Microsoft range attributes' `<=`/`>=` filters).
    case integer(ordered: Bool)
    /// A distinguished name.
    case distinguishedName
    /// IA5 (ASCII) text matched exactly: CIDR blocks.
    case ia5Exact

    var oid: String {
        switch self {
        case .directoryString: "1.3.6.1.4.1.1466.115.121.1.15"
        case .boolean: "1.3.6.1.4.1.1466.115.121.1.7"
        case .integer: "1.3.6.1.4.1.1466.115.121.1.27"
        case .distinguishedName: "1.3.6.1.4.1.1466.115.121.1.12"
        case .ia5Exact: "1.3.6.1.4.1.1466.115.121.1.26"
        }
    }

    var matchingRules: String {
        switch self {
        case .directoryString: "EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch"
        case .boolean: "EQUALITY booleanMatch"
        case .integer(let ordered):
            ordered ? "EQUALITY integerMatch ORDERING integerOrderingMatch" : "EQUALITY integerMatch"
        case .distinguishedName: "EQUALITY distinguishedNameMatch"
        case .ia5Exact: "EQUALITY caseExactIA5Match"
        }
    }
}

/// One attribute type.
public struct AttributeTypeDefinition: Sendable, Hashable {
    public let oid: String
    public let name: String
    public let summary: String
    public let syntax: AttributeSyntax
    public let singleValued: Bool
    public let origin: SchemaOrigin

    /// The RFC 4512 description, as slapd takes it in `olcAttributeTypes` and `attributetype`.
    public var definition: String {
        var text = "( \(oid) NAME '\(name)' DESC '\(summary)' \(syntax.matchingRules) SYNTAX \(syntax.oid)"
        if singleValued { text += " SINGLE-VALUE" }
        return text + " )"
    }
}

extension AttributeSyntax: Hashable {}

/// One object class.
public struct ObjectClassDefinition: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case structural = "STRUCTURAL"
        case abstract = "ABSTRACT"
        case auxiliary = "AUXILIARY"
    }

    public let oid: String
    public let name: String
    public let summary: String
    public let superior: String
    public let kind: Kind
    public let must: [String]
    public let may: [String]
    public let origin: SchemaOrigin

    public var definition: String {
        var text = "( \(oid) NAME '\(name)' DESC '\(summary)' SUP \(superior) \(kind.rawValue)"
        if !must.isEmpty { text += " MUST " + Self.list(must) }
        if !may.isEmpty { text += " MAY " + Self.list(may) }
        return text + " )"
    }

    private static func list(_ names: [String]) -> String {
        names.count == 1 ? names[0] : "( " + names.joined(separator: " $ ") + " )"
    }
}
