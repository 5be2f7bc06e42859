/// Where and how to connect: the servers to try, the time limits, the identity and TLS.
public struct LDAPConnectionConfiguration: Sendable {
    /// How the connection authenticates once it is open.
    public enum Authentication: Sendable, CustomStringConvertible {
        /// No bind; the server treats the client as anonymous.
        case anonymous
        /// A simple bind with a DN and password.
        case simple(dn: DistinguishedName, password: Secret)
        /// SASL EXTERNAL: the identity of the transport (peer credentials over `ldapi://`).
        case external
        /// SASL GSSAPI (Kerberos) as `principal`, its key from `keytab` (a file only its owner can read), for this
        /// connection alone: several identities can be bound at once in one process. The directory server's service
        /// principal is `ldap/<the URI's host>`, so URIs name servers as their principals do.
        case gssapi(principal: String, keytab: String)

        public var description: String {
            switch self {
            case .anonymous: "anonymous"
            case .simple(let dn, _): "simple bind as \(dn)"
            case .external: "SASL EXTERNAL"
            case .gssapi(let principal, _): "SASL GSSAPI as \(principal)"
            }
        }
    }

    /// TLS settings for `ldaps://` URIs and StartTLS.
    public struct TLS: Sendable {
        /// Upgrade `ldap://` connections with the StartTLS extended operation.
        public var startTLS: Bool
        /// A PEM file of certificate authorities to trust; the system's store when nil.
        public var caCertificateFile: String?
        /// Whether the server's certificate must verify. Turning it off is for labs with self-signed certificates.
        public var verifyCertificate: Bool

        public init(startTLS: Bool = false, caCertificateFile: String? = nil, verifyCertificate: Bool = true) {
            self.startTLS = startTLS
            self.caCertificateFile = caCertificateFile
            self.verifyCertificate = verifyCertificate
        }
    }

    /// The servers, tried in order until one connects, answers and accepts the bind.
    public var uris: [LDAPURI]
    /// Bounds each step of setting up a connection to one server: the TCP connect, the TLS handshake and the
    /// first answer (the bind, or for an anonymous connection a read of the root DSE). A dead or silent server
    /// costs at most this long.
    public var connectTimeout: Duration
    /// Bounds the wait for each answer once connected.
    public var operationTimeout: Duration
    public var authentication: Authentication
    public var tls: TLS
    /// How long the connection's thread keeps checking for answers and new requests before it sleeps. Waking a
    /// sleeping thread costs more than a whole request to a local directory, so a short spin (yielding the CPU
    /// on every turn) nearly doubles the rate of one-at-a-time requests; it costs at most this much CPU time
    /// after each burst of activity. Zero never spins.
    public var spinBeforeSleeping: Duration
    /// The most requests sent and not yet answered on the connection; more wait in the connection's queue, in
    /// order. slapd closes a connection with more pending requests than `conn_max_pending` (100 anonymous) or
    /// `conn_max_pending_auth` (1,000) allow, so the default stays below both. The operation timeout starts when a
    /// request is sent.
    public var maxOutstandingRequests: Int
    /// Where to reach servers whose names are not in DNS, by the host name their URIs give: a numeric address.
    /// The URI keeps the name, which is what Kerberos uses (`ldap/<name>`) and what TLS verifies; the socket goes to
    /// the address (curl's `--connect-to`). The lab's directory servers are named as Active Directory names its
    /// domain controllers and listen on loopback.
    public var hostAddresses: [String: String] = [:]

    public init(
        uris: [LDAPURI],
        connectTimeout: Duration = .seconds(2),
        operationTimeout: Duration = .seconds(30),
        authentication: Authentication = .anonymous,
        tls: TLS = TLS(),
        spinBeforeSleeping: Duration = .microseconds(100),
        maxOutstandingRequests: Int = 64
    ) {
        precondition(!uris.isEmpty, "a connection needs at least one URI")
        precondition(maxOutstandingRequests > 0, "at least one request must be able to go out")
        self.uris = uris
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.authentication = authentication
        self.tls = tls
        self.spinBeforeSleeping = spinBeforeSleeping
        self.maxOutstandingRequests = maxOutstandingRequests
    }
}
