/// An LDAP result code: the ones a server sends (RFC 4511) and the negative ones libldap reports for problems on
/// the client side.
///
/// A struct rather than an enum so that codes this type does not name still round-trip. Each static name gives the
/// C constant it stands for.
public struct LDAPResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// `LDAP_SUCCESS`
    public static let success = Self(rawValue: 0)
    /// `LDAP_OPERATIONS_ERROR`
    public static let operationsError = Self(rawValue: 1)
    /// `LDAP_PROTOCOL_ERROR`
    public static let protocolError = Self(rawValue: 2)
    /// `LDAP_TIMELIMIT_EXCEEDED`
    public static let timeLimitExceeded = Self(rawValue: 3)
    /// `LDAP_SIZELIMIT_EXCEEDED`
    public static let sizeLimitExceeded = Self(rawValue: 4)
    /// `LDAP_COMPARE_FALSE`
    public static let compareFalse = Self(rawValue: 5)
    /// `LDAP_COMPARE_TRUE`
    public static let compareTrue = Self(rawValue: 6)
    /// `LDAP_AUTH_METHOD_NOT_SUPPORTED`
    public static let authMethodNotSupported = Self(rawValue: 7)
    /// `LDAP_STRONG_AUTH_REQUIRED`
    public static let strongAuthRequired = Self(rawValue: 8)
    /// `LDAP_REFERRAL`
    public static let referral = Self(rawValue: 10)
    /// `LDAP_ADMINLIMIT_EXCEEDED`
    public static let adminLimitExceeded = Self(rawValue: 11)
    /// `LDAP_UNAVAILABLE_CRITICAL_EXTENSION`
    public static let unavailableCriticalExtension = Self(rawValue: 12)
    /// `LDAP_CONFIDENTIALITY_REQUIRED`
    public static let confidentialityRequired = Self(rawValue: 13)
    /// `LDAP_SASL_BIND_IN_PROGRESS`
    public static let saslBindInProgress = Self(rawValue: 14)
    /// `LDAP_NO_SUCH_ATTRIBUTE`
    public static let noSuchAttribute = Self(rawValue: 16)
    /// `LDAP_UNDEFINED_TYPE`
    public static let undefinedAttributeType = Self(rawValue: 17)
    /// `LDAP_INAPPROPRIATE_MATCHING`
    public static let inappropriateMatching = Self(rawValue: 18)
    /// `LDAP_CONSTRAINT_VIOLATION`
    public static let constraintViolation = Self(rawValue: 19)
    /// `LDAP_TYPE_OR_VALUE_EXISTS`
    public static let attributeOrValueExists = Self(rawValue: 20)
    /// `LDAP_INVALID_SYNTAX`
    public static let invalidAttributeSyntax = Self(rawValue: 21)
    /// `LDAP_NO_SUCH_OBJECT`
    public static let noSuchObject = Self(rawValue: 32)
    /// `LDAP_ALIAS_PROBLEM`
    public static let aliasProblem = Self(rawValue: 33)
    /// `LDAP_INVALID_DN_SYNTAX`
    public static let invalidDNSyntax = Self(rawValue: 34)
    /// `LDAP_INAPPROPRIATE_AUTH`
    public static let inappropriateAuthentication = Self(rawValue: 48)
    /// `LDAP_INVALID_CREDENTIALS`
    public static let invalidCredentials = Self(rawValue: 49)
    /// `LDAP_INSUFFICIENT_ACCESS`
    public static let insufficientAccessRights = Self(rawValue: 50)
    /// `LDAP_BUSY`
    public static let busy = Self(rawValue: 51)
    /// `LDAP_UNAVAILABLE`
    public static let unavailable = Self(rawValue: 52)
    /// `LDAP_UNWILLING_TO_PERFORM`
    public static let unwillingToPerform = Self(rawValue: 53)
    /// `LDAP_LOOP_DETECT`
    public static let loopDetect = Self(rawValue: 54)
    /// `LDAP_NAMING_VIOLATION`
    public static let namingViolation = Self(rawValue: 64)
    /// `LDAP_OBJECT_CLASS_VIOLATION`
    public static let objectClassViolation = Self(rawValue: 65)
    /// `LDAP_NOT_ALLOWED_ON_NONLEAF`
    public static let notAllowedOnNonLeaf = Self(rawValue: 66)
    /// `LDAP_NOT_ALLOWED_ON_RDN`
    public static let notAllowedOnRDN = Self(rawValue: 67)
    /// `LDAP_ALREADY_EXISTS`
    public static let entryAlreadyExists = Self(rawValue: 68)
    /// `LDAP_NO_OBJECT_CLASS_MODS`
    public static let objectClassModsProhibited = Self(rawValue: 69)
    /// `LDAP_OTHER`
    public static let other = Self(rawValue: 80)

    /// `LDAP_SERVER_DOWN`: the connection could not be made or was lost.
    public static let serverDown = Self(rawValue: -1)
    /// `LDAP_LOCAL_ERROR`
    public static let localError = Self(rawValue: -2)
    /// `LDAP_ENCODING_ERROR`
    public static let encodingError = Self(rawValue: -3)
    /// `LDAP_DECODING_ERROR`
    public static let decodingError = Self(rawValue: -4)
    /// `LDAP_TIMEOUT`: no answer within the configured timeout.
    public static let timeout = Self(rawValue: -5)
    /// `LDAP_AUTH_UNKNOWN`
    public static let authUnknown = Self(rawValue: -6)
    /// `LDAP_FILTER_ERROR`
    public static let filterError = Self(rawValue: -7)
    /// `LDAP_USER_CANCELLED`: the operation was cancelled, or its connection closed before it finished.
    public static let userCancelled = Self(rawValue: -8)
    /// `LDAP_PARAM_ERROR`
    public static let paramError = Self(rawValue: -9)
    /// `LDAP_NO_MEMORY`
    public static let noMemory = Self(rawValue: -10)
    /// `LDAP_CONNECT_ERROR`
    public static let connectError = Self(rawValue: -11)
    /// `LDAP_NOT_SUPPORTED`
    public static let notSupported = Self(rawValue: -12)

    /// Whether the code says something about the transport rather than about the request, so that another replica
    /// may well succeed where this one failed.
    public var isTransportFailure: Bool {
        switch self {
        case .serverDown, .connectError, .timeout, .busy, .unavailable: true
        default: false
        }
    }

    /// libldap's text for the code (`ldap_err2string`) followed by the number.
    public var description: String {
        "\(LDAPHandle.errorString(rawValue)) (\(rawValue))"
    }

    /// Lets callers write `catch LDAPResultCode.noSuchObject`.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? LDAPError)?.code == code
    }
}
