public import Logging
import Synchronization

/// A connection to one directory server, picked from a list of replicas, with any number of operations in flight.
///
/// ```swift
/// let connection = try await LDAPConnection.connect(
///     LDAPConnectionConfiguration(uris: [try LDAPURI("ldap://127.0.0.1:3890")]), logger: logger)
/// let sites = try await connection.search(base: systemManagement, filter: .equal("objectClass", "mSSMSSite"))
/// await connection.close()
/// ```
///
/// Every method can be called from any task at the same time; the requests are pipelined on the one connection
/// (see ``SessionLoop``). Closing, or dropping the last reference, unbinds.
public final class LDAPConnection: Sendable {
    /// How busy the connection is and has been.
    public struct Statistics: Sendable, Hashable {
        /// Requests sent and not yet answered.
        public var outstanding: Int
        /// The most requests that were ever sent and unanswered at once.
        public var maxOutstanding: Int
        /// Requests sent since the connection opened.
        public var sent: Int
    }

    /// The server this connection reached.
    public let server: LDAPURI
    /// What happened to each of the configuration's URIs while connecting, in their order.
    public let attempts: [LDAPConnectAttempt]
    private let loop: SessionLoop
    private let nextID = Atomic<UInt64>(1)

    private let operationTimeout: Duration

    private init(server: LDAPURI, attempts: [LDAPConnectAttempt], loop: SessionLoop, operationTimeout: Duration) {
        self.server = server
        self.attempts = attempts
        self.loop = loop
        self.operationTimeout = operationTimeout
    }

    deinit {
        loop.shutdown()
    }

    /// Connects to the configuration's URIs staggered: the first at once, each next one when those before have not
    /// succeeded within 250 ms or have all failed, keeping the first that connects and binds (or answers a root
    /// DSE read) and closing the others. The connect timeout bounds the whole of it, however many URIs there are.
    /// A server that refuses the credentials ends the attempt (the other replicas would refuse them too).
    public static func connect(
        _ configuration: LDAPConnectionConfiguration,
        logger: Logger
    ) async throws(LDAPError) -> LDAPConnection {
        let loop = SessionLoop(configuration: configuration, logger: logger)
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<SessionLoop.Connected, LDAPError>, Never>) in
            loop.start { continuation.resume(returning: $0) }
        }
        let connected = try result.get()
        return LDAPConnection(
            server: connected.server,
            attempts: connected.attempts,
            loop: loop,
            operationTimeout: configuration.operationTimeout
        )
    }

    /// Connects as ``connect(_:logger:)`` does, runs `body` on the new connection's thread right after the bind and
    /// unbinds: a short conversation (a roaming client's) costs one hand-off there and one back, with no connection
    /// object to keep. Connecting fails with the same ``LDAPError`` as ``connect(_:logger:)``; errors thrown by
    /// `body` come back unchanged.
    public static func withSession<T: Sendable>(
        _ configuration: LDAPConnectionConfiguration,
        logger: Logger,
        _ body: @escaping @Sendable (LDAPSession) throws -> T
    ) async throws -> T {
        let loop = SessionLoop(configuration: configuration, logger: logger)
        // Queued before the thread starts, the work runs first once the bind succeeds; the loop then unbinds and
        // stops. When no server can be used, the work gets the connect error. Cancelling the caller's task aborts
        // the connection, so whatever the thread is blocked in ends at once and the call returns.
        // The loop reports how it connected before it runs the work.
        let attempts = AttemptsBox()
        return try await withTaskCancellationHandler {
            try await converse(on: loop, timeout: configuration.operationTimeout, attempts: attempts, body) {
                loop.shutdown()
                loop.start { connected in
                    if case .success(let connected) = connected { attempts.value.withLock { $0 = connected.attempts } }
                }
            }
        } onCancel: {
            loop.abort()
        }
    }

    /// Runs `body` with a session once the loop hands over its handle; `queued` runs right after the work is
    /// queued.
    private static func converse<T: Sendable>(
        on loop: SessionLoop,
        timeout: Duration,
        attempts: AttemptsBox,
        _ body: @escaping @Sendable (LDAPSession) throws -> T,
        queued: () -> Void = {}
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            loop.submitWork { handle in
                continuation.resume(
                    with: Result {
                        try body(
                            LDAPSession(
                                handle: try handle.get(),
                                timeout: timeout,
                                attempts: attempts.value.withLock { $0 }
                            )
                        )
                    }
                )
            }
            queued()
        }
    }

    /// Searches (`ldap_search_ext`). With `pageSize` set, returns one page and the cookie for the next.
    public func search(_ request: LDAPSearchRequest) async throws(LDAPError) -> LDAPSearchResult {
        guard case .search(let result) = try await perform(.search(request)) else { preconditionFailure() }
        return result
    }

    /// Searches and returns every entry found.
    public func search(
        base: DistinguishedName,
        scope: SearchScope = .subtree,
        filter: LDAPFilter = .everything,
        attributes: [String] = [],
        sizeLimit: Int = 0
    ) async throws(LDAPError) -> [LDAPEntry] {
        let request = LDAPSearchRequest(
            base: base,
            scope: scope,
            filter: filter,
            attributes: attributes,
            sizeLimit: sizeLimit
        )
        return try await search(request).entries
    }

    /// Searches with simple paged results (RFC 2696), asking for `pageSize` entries at a time, and returns all of
    /// them. Use it for answers larger than the server's size limit.
    public func searchAllPages(
        base: DistinguishedName,
        scope: SearchScope = .subtree,
        filter: LDAPFilter = .everything,
        attributes: [String] = [],
        pageSize: Int = 500
    ) async throws(LDAPError) -> [LDAPEntry] {
        var request = LDAPSearchRequest(
            base: base,
            scope: scope,
            filter: filter,
            attributes: attributes,
            pageSize: pageSize
        )
        var entries: [LDAPEntry] = []
        while true {
            let page = try await search(request)
            entries += page.entries
            guard let cookie = page.nextPageCookie else { return entries }
            request.pageCookie = cookie
        }
    }

    /// Adds an entry (`ldap_add_ext`).
    public func add(_ dn: DistinguishedName, attributes: [LDAPAttribute]) async throws(LDAPError) {
        _ = try await perform(.add(dn, attributes))
    }

    /// Changes attributes of an entry (`ldap_modify_ext`); the changes apply together or not at all.
    public func modify(_ dn: DistinguishedName, _ modifications: [LDAPModification]) async throws(LDAPError) {
        _ = try await perform(.modify(dn, modifications))
    }

    /// Deletes an entry (`ldap_delete_ext`).
    public func delete(_ dn: DistinguishedName) async throws(LDAPError) {
        _ = try await perform(.delete(dn))
    }

    /// Asks the server whether the entry has the value (`ldap_compare_ext`).
    public func compare(_ dn: DistinguishedName, attribute: String, value: String) async throws(LDAPError) -> Bool {
        precondition(AttributeDescription.isValid(attribute), "'\(attribute)' is not an attribute description")
        guard
            case .compare(let answer) = try await perform(.compare(dn, attribute: attribute, value: Array(value.utf8)))
        else { preconditionFailure() }
        return answer
    }

    /// Reads the root DSE: naming contexts, the subschema entry's DN, supported controls and extensions.
    public func rootDSE() async throws(LDAPError) -> LDAPEntry {
        let entries = try await search(
            base: .root,
            scope: .base,
            attributes: ["*", "+"]
        )
        guard let entry = entries.first else {
            throw LDAPError(code: .noSuchObject, operation: .search, dn: "", server: server)
        }
        return entry
    }

    /// Reads the server's subschema (the attribute types and object classes it knows), so that callers can tell
    /// whether a schema extension is present.
    public func subschema() async throws(LDAPError) -> Subschema {
        let root = try await search(Subschema.rootRequest).entries.first
        let request = try Subschema.request(root: root, server: server)
        return try Subschema(from: try await search(request).entries, request: request, server: server)
    }

    /// Runs `body` on the connection's own thread, with a session whose operations are synchronous: a whole
    /// conversation costs one hand-off between threads instead of one per request (the way GRDB's
    /// `dbQueue.read { db in … }` scopes access). It runs once nothing else is in flight, and other requests wait
    /// while it runs. The session is valid only inside `body`.
    public func withSession<T: Sendable>(_ body: @escaping @Sendable (LDAPSession) throws -> T) async throws -> T {
        try await Self.converse(on: loop, timeout: operationTimeout, attempts: AttemptsBox(attempts), body)
    }

    /// Finishes what is in flight, unbinds and closes the connection.
    public func close() async {
        await loop.close()
    }

    /// Requests in flight now and at most so far.
    public var statistics: Statistics { loop.statistics }

    private func perform(_ operation: QueuedRequest.Operation) async throws(LDAPError) -> QueuedRequest.Response {
        if Task.isCancelled { throw LDAPError(code: .userCancelled, operation: operation.kind, server: server) }
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation {
                (continuation: CheckedContinuation<Result<QueuedRequest.Response, LDAPError>, Never>) in
                loop.submit(QueuedRequest(id: id, operation: operation) { continuation.resume(returning: $0) })
            }
        } onCancel: {
            loop.cancel(id)
        }
        return try result.get()
    }
}

/// How a loop connected, handed from its thread to the work it runs.
final class AttemptsBox: Sendable {
    let value: Mutex<[LDAPConnectAttempt]>
    init(_ attempts: [LDAPConnectAttempt] = []) { value = Mutex(attempts) }
}

/// One URI's part in a connect.
public struct LDAPConnectAttempt: Sendable, CustomStringConvertible {
    public enum Outcome: Sendable {
        /// It connected and answered first: the connection uses it.
        case answered
        /// It failed, and why.
        case failed(LDAPError)
        /// It was still under way when another answered, and was closed.
        case abandoned
        /// Another answered before its turn came.
        case notTried
    }

    public var uri: LDAPURI
    public var outcome: Outcome

    public var description: String {
        switch outcome {
        case .answered: "\(uri) answered"
        case .failed(let error): "\(uri) failed (\(error.code))"
        case .abandoned: "\(uri) abandoned"
        case .notTried: "\(uri) not tried"
        }
    }
}
