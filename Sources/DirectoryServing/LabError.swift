public import SiteModel

/// A lab problem, said so that the user knows what to do.
public struct LabError: KindedError {
    public let description: String
    public let kind: FailureKind
    public init(_ description: String, kind: FailureKind = .serviceUnavailable) {
        self.description = description
        self.kind = kind
    }
}

/// Who a lab connection binds as.
public enum LabIdentity: Sendable {
    /// No bind; clients read anonymously.
    case anonymous
    /// The forest's administrative identity (`cn=admin,<suffix>`), with the password from the lab folder.
    case admin
    /// SASL EXTERNAL over ldapi as the lab's owner, who manages cn=config (schema, indexes).
    case localOwner
}
