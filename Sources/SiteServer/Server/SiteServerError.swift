public import SiteModel

/// A site server problem a person can act on: what went wrong and what to do. Most are about what it was given (a
/// site, a folder, a package, a parcel); a file it cannot write is ``FailureKind/internalError``.
public struct SiteServerError: KindedError, Sendable {
    public let description: String
    public let kind: FailureKind
    public init(_ description: String, kind: FailureKind = .badInput) {
        self.description = description
        self.kind = kind
    }
}

extension SiteServerError {
    /// Runs a file operation of the system-call layer (`SystemCalls`); its failure is an internal error of the site
    /// server.
    @discardableResult
    static func storing<T>(_ body: () throws -> T) throws(SiteServerError) -> T {
        do { return try body() } catch { throw SiteServerError("\(error)", kind: .internalError) }
    }
}
