/// Something wrong with a hierarchy file: where, what, and what was expected.
public struct HierarchyProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public static func error(_ location: SourceLocation, _ message: String) -> Self {
        Self(.error, at: location, message)
    }
    public static func warning(_ location: SourceLocation, _ message: String) -> Self {
        Self(.warning, at: location, message)
    }

    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}
