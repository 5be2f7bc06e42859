/// What kind of failure an error is. Every error type above the C wrappers says which, so the command line's exit
/// status (docs/command-line.md) is decided once, from the kind, and never from an error's text.
public enum FailureKind: Sendable, Equatable, CustomStringConvertible {
    /// What was given is wrong: a flag, a file, a name, a folder that is not what it should be (exit 2).
    case badInput
    /// A check ran and found problems (exit 1).
    case checkFailed
    /// A directory, share, service or program needed could not be used (exit 3).
    case serviceUnavailable
    /// Something siteloc or its machine should not have done: a file it cannot write, a state it cannot encode
    /// (exit 3, saying so).
    case internalError

    public var description: String {
        switch self {
        case .badInput: "bad input"
        case .checkFailed: "check failed"
        case .serviceUnavailable: "service unavailable"
        case .internalError: "internal error"
        }
    }
}

/// An error that knows its kind. Its description is safe to print: it never holds a secret, and text from a peer
/// in it is escaped.
public protocol KindedError: Error, CustomStringConvertible {
    var kind: FailureKind { get }
}
