import CLDAP
import Foundation
import Glibc
import Logging
import Synchronization

/// A request waiting to be sent, with the closure that receives its outcome.
struct QueuedRequest: Sendable {
    enum Operation: Sendable {
        case search(LDAPSearchRequest)
        case add(DistinguishedName, [LDAPAttribute])
        case modify(DistinguishedName, [LDAPModification])
        case delete(DistinguishedName)
        case compare(DistinguishedName, attribute: String, value: [UInt8])
    }

    enum Response: Sendable {
        case search(LDAPSearchResult)
        case done
        case compare(Bool)
    }

    let id: UInt64
    let operation: Operation
    let completion: @Sendable (Result<Response, LDAPError>) -> Void
}

/// Runs one connection on a thread of its own, which alone uses the ``LDAPHandle``.
///
/// Callers queue requests from any thread and are woken through their completion closures. The thread sends
/// everything queued, then waits in `poll` on the LDAP socket and a wake-up pipe, reads every complete answer,
/// matches it to its request by message ID, and fails requests whose time is up. So any number of requests can
/// be in flight on the one connection, and no blocking call ever runs on Swift's cooperative threads.
final class SessionLoop: @unchecked Sendable {
    // Why @unchecked Sendable is sound here:
    // - `handle`, `inFlight`, `backlog`, `sentIDs` and `waitingWork` are read and written only on the loop thread
    //   (in `run` and the
    //   functions it calls); no other thread touches them after `start` hands the object to that thread.
    // - Everything other threads touch lives in `shared`, a Mutex.
    // - `wakeReader`, `wakeWriter`, `configuration` and `logger` are immutable after init; writing to and reading
    //   from a pipe are safe from any thread.
    private let configuration: LDAPConnectionConfiguration
    private let logger: Logger
    private let wakeReader: Int32
    private let wakeWriter: Int32
    private let shared = Mutex(SharedState())

    private var handle: LDAPHandle?
    private var inFlight: [Int32: InFlightRequest] = [:]
    /// Requests taken from the queue and not yet sent, because `maxOutstandingRequests` are in flight.
    private var backlog: [QueuedRequest] = []
    private var sentIDs: [UInt64: Int32] = [:]
    private var waitingWork: [Work] = []

    /// Work for the loop thread: it gets the handle, or why the connection cannot be used.
    typealias Work = @Sendable (Result<LDAPHandle, LDAPError>) -> Void

    private struct SharedState {
        var queue: [QueuedRequest] = []
        var work: [Work] = []
        var cancelled: [UInt64] = []
        var closing = false
        var finished = false
        var failure: LDAPError?
        var outstanding = 0
        var maxOutstanding = 0
        var sent = 0
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        /// The watch on the socket of the handle in use, for ``abort()``.
        var watch: SocketWatch?
        /// The connection attempts under way, for ``abort()``.
        var race: ConnectRace?
        var aborted = false
    }

    private final class InFlightRequest {
        let request: QueuedRequest
        let deadline: ContinuousClock.Instant
        var entries: [LDAPEntry] = []

        init(request: QueuedRequest, deadline: ContinuousClock.Instant) {
            self.request = request
            self.deadline = deadline
        }
    }

    init(configuration: LDAPConnectionConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var fds: [Int32] = [0, 0]
        let rc = pipe(&fds)
        precondition(rc == 0, "pipe failed: \(String(cString: strerror(errno)))")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeReader = fds[0]
        wakeWriter = fds[1]
    }

    deinit {
        Glibc.close(wakeReader)
        Glibc.close(wakeWriter)
    }

    /// Starts the thread, which connects and reports the server it reached (or why none could be used).
    /// The server a loop reached and what happened to every URI on the way.
    struct Connected: Sendable {
        var server: LDAPURI
        var attempts: [LDAPConnectAttempt]
    }

    func start(connected: @escaping @Sendable (Result<Connected, LDAPError>) -> Void) {
        let thread = Thread { [self] in
            self.run(connected: connected)
        }
        thread.name = "siteloc-ldap"
        thread.start()
    }

    // MARK: Called from any thread

    func submit(_ request: QueuedRequest) {
        let rejection: LDAPError? = shared.withLock { state in
            if let failure = state.failure { return failure }
            if state.closing { return LDAPError(code: .userCancelled, operation: request.operation.kind) }
            state.queue.append(request)
            return nil
        }
        if let rejection {
            request.completion(.failure(rejection))
        } else {
            wake()
        }
    }

    /// Queues work to run on the loop thread with the handle once nothing else is in flight; it gets the error
    /// when the connection is gone or could not be made.
    func submitWork(_ work: @escaping Work) {
        let accepted = shared.withLock { state -> Bool in
            guard state.failure == nil && !state.closing else { return false }
            state.work.append(work)
            return true
        }
        if accepted { wake() } else { work(.failure(gone)) }
    }

    func cancel(_ id: UInt64) {
        shared.withLock { $0.cancelled.append(id) }
        wake()
    }

    /// Ends the connection now, from any thread: whatever the loop's thread is blocked in (connecting, a TLS
    /// handshake, a session's search) returns at once with an error, and everything in flight fails. For a caller's
    /// cancellation, which otherwise could not reach that thread.
    func abort() {
        let (watch, race) = shared.withLock { state in
            state.aborted = true
            state.closing = true
            return (state.watch, state.race)
        }
        watch?.fire()
        race?.abort()
        wake()
    }

    /// Asks the loop to finish what is in flight, unbind and stop.
    func shutdown() {
        shared.withLock { $0.closing = true }
        wake()
    }

    /// Shuts down and waits until the thread has unbound and stopped.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyFinished = shared.withLock { state in
                state.closing = true
                if state.finished { return true }
                state.closeWaiters.append(continuation)
                return false
            }
            if alreadyFinished { continuation.resume() } else { wake() }
        }
    }

    var statistics: LDAPConnection.Statistics {
        shared.withLock {
            LDAPConnection.Statistics(outstanding: $0.outstanding, maxOutstanding: $0.maxOutstanding, sent: $0.sent)
        }
    }

    /// Why work can no longer run: the connection's failure (the connect error when none could be made), or that
    /// it was closed.
    private var gone: LDAPError {
        shared.withLock { $0.failure } ?? LDAPError(code: .serverDown, operation: .search)
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWriter, &byte, 1)  // a full pipe already means a pending wake-up
    }

    // MARK: The loop thread

    private func run(connected: @Sendable (Result<Connected, LDAPError>) -> Void) {
        Self.blockPipeSignal()
        switch establish() {
        case .success(let (established, attempts)):
            shared.withLock { $0.watch = established.watch }
            handle = established
            connected(.success(Connected(server: established.uri, attempts: attempts)))
        case .failure(let error):
            shared.withLock { $0.failure = error }
            connected(.failure(error))
            finish()
            return
        }
        while true {
            let (requests, work, cancelled, closing, failed) = shared.withLock { state in
                defer {
                    state.queue.removeAll(keepingCapacity: true)
                    state.work.removeAll()
                    state.cancelled.removeAll()
                }
                return (state.queue, state.work, state.cancelled, state.closing, state.failure != nil)
            }
            waitingWork += work
            backlog += requests
            for id in cancelled { cancelRequest(id) }
            let room = max(0, configuration.maxOutstandingRequests - inFlight.count)
            if room > 0 && !backlog.isEmpty {
                let ready = backlog.prefix(room)
                backlog.removeFirst(ready.count)
                for request in ready { send(request) }
                publishOutstanding(newlySent: ready.count)
            }
            if inFlight.isEmpty && backlog.isEmpty && !waitingWork.isEmpty {
                let ready = waitingWork
                waitingWork.removeAll()
                for item in ready { item(handle.map { .success($0) } ?? .failure(gone)) }
                continue
            }
            if inFlight.isEmpty && backlog.isEmpty && (failed || (closing && requests.isEmpty)) { break }
            waitForActivity()
            readAnswers()
            expireRequests()
        }
        for item in waitingWork { item(.failure(gone)) }
        waitingWork.removeAll()
        handle = nil  // unbinds
        shared.withLock { $0.watch = nil }
        finish()
    }

    /// Connects to the configuration's URIs staggered (docs/replication.md, "Reads and failover"): the first
    /// at once, each next one when the ones before have not succeeded within ``ConnectRace/stagger`` or have all
    /// failed; the first to connect, bind (or answer the probe) wins and the others are shut down. The connect
    /// timeout bounds the whole race, whatever the number of URIs; a refused bind ends it (the other replicas
    /// would refuse the credentials too).
    private func establish() -> Result<(LDAPHandle, [LDAPConnectAttempt]), LDAPError> {
        let uris = configuration.uris
        if uris.count == 1 { return establishOne(uris[0]) }
        let race = ConnectRace(count: uris.count, deadline: ContinuousClock.now + configuration.connectTimeout)
        shared.withLock { $0.race = race }
        defer { shared.withLock { $0.race = nil } }
        if shared.withLock({ $0.aborted }) { race.abort() }
        var started = 0
        var nextStart = ContinuousClock.now
        while true {
            if started < uris.count, race.shouldStartNext(started: started, at: nextStart) {
                let index = started
                started += 1
                nextStart = ContinuousClock.now + ConnectRace.stagger
                let thread = Thread { [self] in self.attempt(uris[index], index: index, in: race) }
                thread.name = "siteloc-ldap-connect"
                thread.start()
                continue
            }
            switch race.wait(until: started < uris.count ? nextStart : nil, started: started) {
            case .pending:
                continue
            case .won(let transferred, let index):
                return .success((transferred.handle, race.report(uris: uris, winner: index, started: started)))
            case .failed(let failures):
                // A failure that ends the race (a refused bind) comes alone.
                if failures.count == 1 { return .failure(failures[0]) }
                return .failure(LDAPError(code: failures.last!.code, operation: .connect, attempts: failures))
            }
        }
    }

    /// A single URI needs no race: it is tried on this thread, with the whole timeout (no thread to start, which
    /// on a loaded machine took a good part of a short timeout).
    private func establishOne(_ uri: LDAPURI) -> Result<(LDAPHandle, [LDAPConnectAttempt]), LDAPError> {
        let result = connect(uri, until: ContinuousClock.now + configuration.connectTimeout) { watch in
            let aborted = shared.withLock { state in
                state.watch = watch
                return state.aborted
            }
            return !aborted
        }
        return result.map { ($0, [LDAPConnectAttempt(uri: uri, outcome: .answered)]) }
    }

    /// One URI's attempt in a race, on a thread of its own: it reports to the race, which keeps the handle if it
    /// won.
    private func attempt(_ uri: LDAPURI, index: Int, in race: ConnectRace) {
        Self.blockPipeSignal()
        race.finish(index, connect(uri, until: race.deadline, register: race.register))
    }

    /// Connects to one URI by `deadline`, when its socket watch shuts the connection down; `register` hands the
    /// watch to whoever may end the attempt sooner (an abort, a race's winner) and says whether it may go on.
    private func connect(
        _ uri: LDAPURI,
        until deadline: ContinuousClock.Instant,
        register: (SocketWatch) -> Bool
    ) -> Result<LDAPHandle, LDAPError> {
        do {
            let candidate: LDAPHandle
            if let address = configuration.hostAddresses[uri.host.lowercased()] {
                candidate = try LDAPHandle(
                    uri: uri,
                    connectingTo: address,
                    timeout: max(.milliseconds(1), deadline - ContinuousClock.now)
                )
            } else {
                candidate = try LDAPHandle(uri: uri)
            }
            guard register(candidate.watch) else {
                return .failure(LDAPError(code: .userCancelled, operation: .connect, server: uri))
            }
            let remaining = max(.zero, deadline - ContinuousClock.now)
            let timer = candidate.watch.deadline(after: remaining)
            defer { timer.cancel() }
            try open(candidate, timeout: remaining)
            logger.debug("connected", metadata: ["ldap.uri": "\(uri)", "ldap.auth": "\(configuration.authentication)"])
            return .success(candidate)
        } catch {
            var failure = error
            failure.server = uri
            logger.debug("cannot use directory server", metadata: ["ldap.uri": "\(uri)", "ldap.error": "\(failure)"])
            return .failure(failure)
        }
    }

    /// libldap writes to its socket with write(2): to a server that has gone away that raises SIGPIPE, which would
    /// end the whole process. Blocked on the threads that use a handle, the write fails with EPIPE instead and
    /// libldap reports the server as down; a pending SIGPIPE dies with the thread.
    private static func blockPipeSignal() {
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
    }

    /// Connects, upgrades to TLS where asked and authenticates. A failure after the watch fired is the timeout (or
    /// the abort) that fired it, whatever libldap made of the socket being shut down.
    private func open(_ candidate: LDAPHandle, timeout: Duration) throws(LDAPError) {
        do {
            try candidate.configure(timeout: timeout, tls: configuration.tls)
            try candidate.connect()
            if configuration.tls.startTLS && candidate.uri.scheme == .ldap { try candidate.startTLS() }
            try authenticate(candidate, timeout: timeout)
        } catch {
            guard candidate.watch.hasFired else { throw error }
            let aborted = shared.withLock { $0.aborted }
            throw LDAPError(
                code: aborted ? .userCancelled : .timeout,
                operation: error.operation,
                server: candidate.uri
            )
        }
    }

    /// Binds, or for an anonymous connection reads the root DSE, so that a server which accepts connections but
    /// never answers is found out within the connect timeout.
    private func authenticate(_ candidate: LDAPHandle, timeout: Duration) throws(LDAPError) {
        let result: LDAPResultInfo
        switch configuration.authentication {
        case .anonymous:
            let probe = LDAPSearchRequest(
                base: .root,
                scope: .base,
                filter: .everything,
                attributes: ["supportedLDAPVersion"]
            )
            let id = try candidate.sendSearch(probe)
            result = try candidate.waitForResult(of: id, timeout: timeout, operation: .search)
        case .simple(let dn, let password):
            let id = try candidate.sendSimpleBind(dn: dn.string, password: password)
            result = try candidate.waitForResult(of: id, timeout: timeout, operation: .bind)
            guard result.code == .success else {
                throw LDAPError(
                    code: result.code,
                    operation: .bind,
                    dn: dn.string,
                    diagnosticMessage: result.diagnosticMessage,
                    server: candidate.uri
                )
            }
            return
        case .external:
            try candidate.bindExternal()
            return
        case .gssapi(let principal, let keytab):
            try Keytab.checkPrivate(keytab, for: candidate.uri)
            try candidate.bindGSSAPI(principal: principal, keytab: keytab)
            return
        }
        guard result.code == .success else {
            throw LDAPError(code: result.code, operation: .search, diagnosticMessage: result.diagnosticMessage)
        }
    }

    private func send(_ request: QueuedRequest) {
        guard let handle else {
            request.completion(.failure(LDAPError(code: .serverDown, operation: request.operation.kind)))
            return
        }
        do {
            let messageID: Int32 =
                switch request.operation {
                case .search(let search): try handle.sendSearch(search)
                case .add(let dn, let attributes): try handle.sendAdd(dn: dn, attributes: attributes)
                case .modify(let dn, let modifications): try handle.sendModify(dn: dn, modifications: modifications)
                case .delete(let dn): try handle.sendDelete(dn: dn)
                case .compare(let dn, let attribute, let value):
                    try handle.sendCompare(dn: dn, attribute: attribute, value: value)
                }
            inFlight[messageID] = InFlightRequest(
                request: request,
                deadline: .now + configuration.operationTimeout
            )
            sentIDs[request.id] = messageID
        } catch {
            request.completion(.failure(error))
            if error.code == .serverDown { fail(with: error) }
        }
    }

    private func cancelRequest(_ id: UInt64) {
        if let waiting = backlog.firstIndex(where: { $0.id == id }) {
            let request = backlog.remove(at: waiting)
            request.completion(.failure(LDAPError(code: .userCancelled, operation: request.operation.kind)))
            return
        }
        guard let messageID = sentIDs[id], let request = inFlight[messageID] else { return }
        handle?.abandon(messageID)
        complete(
            messageID,
            request,
            .failure(LDAPError(code: .userCancelled, operation: request.request.operation.kind))
        )
    }

    private func waitForActivity() {
        guard let handle else { return }
        var timeoutMilliseconds: Int32 = -1
        if let nearest = inFlight.values.map(\.deadline).min() {
            let remaining = ContinuousClock.now.duration(to: nearest)
            let (seconds, attoseconds) = remaining.components
            let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
            timeoutMilliseconds = Int32(clamping: max(0, milliseconds))
        }
        var fds = [
            pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0),
        ]
        // Spin briefly, yielding the CPU, before sleeping: an answer or the caller's next request usually comes
        // within microseconds, and a sleeping thread takes far longer than that to wake.
        if configuration.spinBeforeSleeping > .zero {
            let until = ContinuousClock.now + configuration.spinBeforeSleeping
            while ContinuousClock.now < until {
                if poll(&fds, nfds_t(fds.count), 0) > 0 { break }
                sched_yield()
            }
        }
        if fds[0].revents == 0 && fds[1].revents == 0 {
            _ = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
        }
        if fds[1].revents != 0 {
            // One read empties the pipe: each wake-up is one byte, and a burst rarely exceeds the buffer.
            var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            _ = read(wakeReader, &buffer, MemoryLayout.size(ofValue: buffer))
        }
    }

    private func readAnswers() {
        guard let handle else { return }
        do {
            while let message = try handle.nextMessage() {
                let messageID = handle.messageID(of: message)
                guard let request = inFlight[messageID] else { continue }  // abandoned
                switch handle.messageType(of: message) {
                case LDAPHandle.searchEntry:
                    request.entries.append(handle.entry(from: message))
                case LDAPHandle.searchReference:
                    continue  // referrals are not chased
                default:
                    let info = handle.parseResult(message)
                    complete(messageID, request, outcome(of: request, info, handle.uri))
                }
            }
        } catch {
            fail(with: error)
        }
    }

    private func outcome(
        of request: InFlightRequest,
        _ info: LDAPResultInfo,
        _ server: LDAPURI
    ) -> Result<
        QueuedRequest.Response, LDAPError
    > {
        let operation = request.request.operation
        switch (operation, info.code) {
        case (.search, .success):
            return .success(.search(LDAPSearchResult(entries: request.entries, nextPageCookie: info.pageCookie)))
        case (.compare, .compareTrue):
            return .success(.compare(true))
        case (.compare, .compareFalse):
            return .success(.compare(false))
        case (.add, .success), (.modify, .success), (.delete, .success):
            return .success(.done)
        default:
            var filter: String?
            if case .search(let search) = operation { filter = search.filter.string }
            return .failure(
                LDAPError(
                    code: info.code,
                    operation: operation.kind,
                    dn: operation.dn,
                    diagnosticMessage: info.diagnosticMessage,
                    matchedDN: info.matchedDN,
                    server: server,
                    filter: filter
                )
            )
        }
    }

    private func expireRequests() {
        guard !inFlight.isEmpty else { return }
        let now = ContinuousClock.now
        for (messageID, request) in inFlight where request.deadline <= now {
            handle?.abandon(messageID)
            let operation = request.request.operation
            complete(
                messageID,
                request,
                .failure(LDAPError(code: .timeout, operation: operation.kind, dn: operation.dn, server: handle?.uri))
            )
        }
    }

    private func complete(
        _ messageID: Int32,
        _ request: InFlightRequest,
        _ result: Result<QueuedRequest.Response, LDAPError>
    ) {
        inFlight[messageID] = nil
        sentIDs[request.request.id] = nil
        publishOutstanding()
        request.request.completion(result)
    }

    /// The connection is gone: everything in flight and everything queued fails with the error.
    private func fail(with error: LDAPError) {
        logger.debug(
            "connection lost",
            metadata: ["ldap.uri": "\(handle?.uri.description ?? "?")", "ldap.error": "\(error)"]
        )
        let queued = shared.withLock { state in
            state.failure = state.failure ?? error
            defer { state.queue.removeAll() }
            return state.queue
        }
        for (messageID, request) in inFlight {
            var failure = error
            failure.operation = request.request.operation.kind
            failure.dn = request.request.operation.dn
            complete(messageID, request, .failure(failure))
        }
        for request in backlog + queued { request.completion(.failure(error)) }
        backlog.removeAll()
        handle = nil
    }

    private func publishOutstanding(newlySent: Int = 0) {
        let count = inFlight.count
        shared.withLock { state in
            state.sent += newlySent
            state.outstanding = count
            state.maxOutstanding = max(state.maxOutstanding, count)
        }
    }

    private func finish() {
        let (waiters, queued) = shared.withLock { state in
            state.finished = true
            state.closing = true
            defer {
                state.closeWaiters.removeAll()
                state.queue.removeAll()
            }
            return (state.closeWaiters, state.queue)
        }
        for request in queued {
            request.completion(.failure(LDAPError(code: .userCancelled, operation: request.operation.kind)))
        }
        let work = shared.withLock { state in
            defer { state.work.removeAll() }
            return state.work
        }
        for item in work { item(.failure(gone)) }
        for waiter in waiters { waiter.resume() }
    }
}

extension QueuedRequest.Operation {
    var kind: LDAPOperation {
        switch self {
        case .search: .search
        case .add: .add
        case .modify: .modify
        case .delete: .delete
        case .compare: .compare
        }
    }

    var dn: String {
        switch self {
        case .search(let request): request.base.string
        case .add(let dn, _), .modify(let dn, _), .delete(let dn), .compare(let dn, _, _): dn.string
        }
    }
}
