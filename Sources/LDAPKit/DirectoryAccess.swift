public import Foundation
public import Logging

/// Who a party is to a directory. The one place a new way to authenticate enters: a case here, and the bind that
/// goes with it in ``LDAPConnectionConfiguration/Authentication``. Which party uses which credential is decided in
/// SiteAssembly (``DirectoryAccess`` values), never by the code that connects.
public enum DirectoryCredential: Sendable, Equatable, CustomStringConvertible {
    /// No bind: what any reader of the directory may see.
    case anonymous
    /// A simple bind as `dn`, the password read from `file` each time a connection opens, so it is held no longer
    /// than the bind and a rotated file takes effect at the next connection.
    case passwordFile(dn: DistinguishedName, file: URL)
    /// A simple bind as `dn` with a password the caller already holds (a lab's replication identity).
    case password(dn: DistinguishedName, Secret)
    /// SASL EXTERNAL: the identity of the transport (the peer credentials of an `ldapi://` socket).
    case transportIdentity
    /// Kerberos, as Active Directory's machines authenticate: SASL GSSAPI as `principal` (a computer account,
    /// `NAME$@REALM`), its keys from `keytab`, which only its owner may read. No password exists.
    case kerberos(principal: String, keytab: URL)

    public var description: String {
        switch self {
        case .anonymous: "anonymous"
        case .passwordFile(let dn, _), .password(let dn, _): "simple bind as \(dn)"
        case .transportIdentity: "SASL EXTERNAL"
        case .kerberos(let principal, _): "Kerberos as \(principal)"
        }
    }
}

/// How a party reaches one directory: the servers to try in order, who it is there and how long it waits. Every
/// connection above LDAPKit opens from one of these; the command line, site servers, services, benchmarks and tests
/// are handed them by SiteAssembly (or, for the lab's own administration, by the lab).
public struct DirectoryAccess: Sendable, CustomStringConvertible {
    /// The servers (replicas of one directory), tried staggered in order.
    public var uris: [LDAPURI]
    public var credential: DirectoryCredential
    /// Bounds connecting to one server: TCP, TLS and the bind (or the first answer).
    public var connectTimeout: Duration
    /// Bounds each answer once connected.
    public var operationTimeout: Duration
    public var tls: LDAPConnectionConfiguration.TLS
    /// Where servers whose names are not in DNS listen (``LDAPConnectionConfiguration/hostAddresses``).
    public var hostAddresses: [String: String] = [:]
    /// The krb5.conf a Kerberos credential is used with (the lab's); the process's own when nil. Kerberos reads one
    /// configuration per process: the first given is kept (``KerberosConfiguration``).
    public var kerberosConfiguration: String?

    /// One `timeout` bounds connecting and each answer unless `operationTimeout` says otherwise.
    public init(
        uris: [LDAPURI],
        credential: DirectoryCredential = .anonymous,
        timeout: Duration = .seconds(2),
        operationTimeout: Duration? = nil,
        tls: LDAPConnectionConfiguration.TLS = .init()
    ) {
        precondition(!uris.isEmpty, "a directory is reached through at least one URI")
        self.uris = uris
        self.credential = credential
        connectTimeout = timeout
        self.operationTimeout = operationTimeout ?? timeout
        self.tls = tls
    }

    public var description: String {
        "\(uris.map(\.description).joined(separator: ", ")) (\(credential))"
    }

    /// The same access with `timeout` bounding connecting and each answer.
    public func bounded(by timeout: Duration) -> DirectoryAccess {
        var access = self
        access.connectTimeout = timeout
        access.operationTimeout = timeout
        return access
    }

    /// The same servers and limits as another party.
    public func `as`(_ credential: DirectoryCredential) -> DirectoryAccess {
        var access = self
        access.credential = credential
        return access
    }

    /// The connection configuration this access describes; a password file that cannot be read fails here as a
    /// bind that could not be attempted, naming the file, never its content.
    public func configuration() throws(LDAPError) -> LDAPConnectionConfiguration {
        let authentication: LDAPConnectionConfiguration.Authentication
        switch credential {
        case .anonymous:
            authentication = .anonymous
        case .transportIdentity:
            authentication = .external
        case .password(let dn, let password):
            authentication = .simple(dn: dn, password: password)
        case .passwordFile(let dn, let file):
            do {
                authentication = .simple(dn: dn, password: try Secret(contentsOf: file))
            } catch {
                throw LDAPError(code: .localError, operation: .bind, dn: dn.string, diagnosticMessage: "\(error)")
            }
        case .kerberos(let principal, let keytab):
            if let kerberosConfiguration { KerberosConfiguration.use(kerberosConfiguration) }
            authentication = .gssapi(principal: principal, keytab: keytab.path)
        }
        var configuration = LDAPConnectionConfiguration(
            uris: uris,
            connectTimeout: connectTimeout,
            operationTimeout: operationTimeout,
            authentication: authentication,
            tls: tls
        )
        configuration.hostAddresses = hostAddresses
        return configuration
    }

    /// Connects (``LDAPConnection/connect(_:logger:)``).
    public func connect(logger: Logger) async throws(LDAPError) -> LDAPConnection {
        try await LDAPConnection.connect(try configuration(), logger: logger)
    }

    /// A short conversation on the connection's thread (``LDAPConnection/withSession(_:logger:_:)``).
    public func withSession<T: Sendable>(
        logger: Logger,
        _ body: @escaping @Sendable (LDAPSession) throws -> T
    ) async throws -> T {
        try await LDAPConnection.withSession(try configuration(), logger: logger, body)
    }
}
