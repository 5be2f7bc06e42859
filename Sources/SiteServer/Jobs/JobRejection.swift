public import SiteModel

/// Why a site server refused a job. Refused jobs are kept aside with this, never applied or forwarded.
public struct JobRejection: KindedError, Sendable, Codable {
    /// A job is a neighbour's input; its refusal is about what was sent.
    public var kind: FailureKind { .badInput }
    public enum Code: String, Sendable, Codable {
        case malformed
        case unsigned
        case unknownKey = "unknown-key"
        case badSignature = "bad-signature"
        case altered
        case notNeighbour = "not-neighbour"
        case unknownDestination = "unknown-destination"
        case unknownPackage = "unknown-package"
        case badOrigin = "bad-origin"
        case stale
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): the job \(message)" }
}
