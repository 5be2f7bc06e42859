internal import CLDAP
import Dispatch
import Glibc
import Synchronization

/// Lets any thread end every blocking call on one session's socket (`cldap_watch` in the C shim), now or when a
/// deadline passes: the only way to bound libldap's TLS handshake, and the way a caller's cancellation reaches the
/// connection's thread.
final class SocketWatch: @unchecked Sendable {
    // Why @unchecked Sendable is sound: `watch` is set once in init and freed once in deinit, when no reference is
    // left; every C function called on it takes the watch's own mutex.
    private let watch: UnsafeMutablePointer<cldap_watch>

    init() {
        guard let watch = cldap_watch_create() else { preconditionFailure("out of memory for a socket watch") }
        self.watch = watch
    }

    deinit { cldap_watch_destroy(watch) }

    fileprivate func install(on ld: OpaquePointer) -> Int32 { cldap_watch_install(ld, watch) }

    fileprivate func adopt(_ descriptor: Int32, of ld: OpaquePointer) { cldap_watch_adopt(ld, watch, descriptor) }

    /// Shuts the socket down: a blocked read or write returns at once, and libldap reports the server as gone.
    func fire() { cldap_watch_fire(watch) }

    var hasFired: Bool { cldap_watch_has_fired(watch) != 0 }

    /// A serial queue: on Linux it gets a thread of its own, where a concurrent or global queue shares one as wide as
    /// the cores with whatever blocks there, and a deadline must fire on time.
    private static let deadlines = DispatchQueue(label: "siteloc.ldap.deadlines")

    /// Fires after `duration` unless the returned deadline is cancelled first.
    func deadline(after duration: Duration) -> Deadline {
        let deadline = Deadline(watch: self)
        let (seconds, attoseconds) = duration.components
        let nanoseconds = Int(clamping: seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
        Self.deadlines.asyncAfter(deadline: .now() + .nanoseconds(max(0, nanoseconds))) {
            deadline.expire()
        }
        return deadline
    }

    /// A pending ``SocketWatch/deadline(after:)``.
    final class Deadline: Sendable {
        private let watch: SocketWatch
        private let cancelled = Atomic<Bool>(false)

        fileprivate init(watch: SocketWatch) { self.watch = watch }

        func cancel() { cancelled.store(true, ordering: .sequentiallyConsistent) }

        fileprivate func expire() {
            if !cancelled.load(ordering: .sequentiallyConsistent) { watch.fire() }
        }
    }
}

/// Owns one libldap session (`LDAP *`). This file is the only place that calls `ldap_*` and `ber_*`: every call
/// goes through here, and every failing result code becomes an ``LDAPError`` here.
///
/// Not thread-safe, on purpose: a handle belongs to exactly one ``SessionLoop`` and is used only on its thread.
final class LDAPHandle {
    private let ld: OpaquePointer
    let uri: LDAPURI
    /// Whether the session was made over a socket of ours (``init(uri:connectingTo:timeout:)``).
    private var connected = false
    /// Outlives `ld` (libldap keeps a pointer to it): released after the unbind in deinit.
    let watch = SocketWatch()

    // Message types of `ldap_msgtype`. The C macros are casts to `ber_tag_t`, spelled out here.
    static let searchEntry: Int32 = 0x64  // LDAP_RES_SEARCH_ENTRY
    static let searchReference: Int32 = 0x73  // LDAP_RES_SEARCH_REFERENCE
    static let searchResult: Int32 = 0x65  // LDAP_RES_SEARCH_RESULT

    /// libldap's text for a result code (`ldap_err2string`).
    static func errorString(_ code: Int32) -> String {
        String(cString: ldap_err2string(code))
    }

    /// Creates the session; nothing is sent yet (`ldap_initialize`).
    init(uri: LDAPURI) throws(LDAPError) {
        var session: OpaquePointer?
        let rc = ldap_initialize(&session, uri.string)
        guard rc == LDAP_SUCCESS, let session else {
            throw LDAPError(code: LDAPResultCode(rawValue: rc), operation: .connect, server: uri)
        }
        ld = session
        self.uri = uri
        let installed = watch.install(on: session)
        guard installed == LDAP_SUCCESS else {
            ldap_unbind_ext(session, nil, nil)
            throw LDAPError(code: LDAPResultCode(rawValue: installed), operation: .connect, server: uri)
        }
    }

    /// Connects to `address` (numeric) at the URI's port, bounded by `timeout`, and makes the session over that
    /// socket with the URI as its name (`ldap_init_fd`): for servers whose names are not in DNS
    /// (``LDAPConnectionConfiguration/hostAddresses``).
    init(uri: LDAPURI, connectingTo address: String, timeout: Duration) throws(LDAPError) {
        guard uri.scheme != .ldapi else {
            throw LDAPError(code: .paramError, operation: .connect, server: uri)
        }
        let port = uri.port ?? (uri.scheme == .ldaps ? 636 : 389)
        let (seconds, attoseconds) = timeout.components
        let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        let descriptor = cldap_connect_tcp(address, Int32(port), max(1, milliseconds))
        guard descriptor >= 0 else {
            let code: LDAPResultCode = descriptor == -ETIMEDOUT ? .timeout : .serverDown
            throw LDAPError(
                code: code,
                operation: .connect,
                diagnosticMessage: "\(address):\(port): \(String(cString: strerror(-descriptor)))",
                server: uri
            )
        }
        var session: OpaquePointer?
        let rc = cldap_init_fd(descriptor, uri.string, &session)
        guard rc == LDAP_SUCCESS, let session else {
            close(descriptor)
            throw LDAPError(code: LDAPResultCode(rawValue: rc), operation: .connect, server: uri)
        }
        ld = session
        self.uri = uri
        connected = true
        watch.adopt(descriptor, of: session)
        if uri.scheme == .ldaps {
            try check(ldap_install_tls(session), .startTLS)
        }
    }

    deinit {
        // Sends an unbind if connected and frees the session.
        ldap_unbind_ext(ld, nil, nil)
    }

    // MARK: Options and connecting

    /// Sets LDAPv3, no referral chasing, and `timeout` for the TCP connect, the TLS handshake and any synchronous
    /// call (`LDAP_OPT_NETWORK_TIMEOUT`, `LDAP_OPT_TIMEOUT`).
    func configure(timeout: Duration, tls: LDAPConnectionConfiguration.TLS) throws(LDAPError) {
        var version = LDAP_VERSION3
        try check(ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version), .connect)
        try check(ldap_set_option(ld, LDAP_OPT_REFERRALS, cldap_opt_off()), .connect)
        var limit = timeval(timeout)
        try check(ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &limit), .connect)
        try check(ldap_set_option(ld, LDAP_OPT_TIMEOUT, &limit), .connect)
        guard uri.scheme == .ldaps || tls.startTLS else { return }
        if let file = tls.caCertificateFile {
            try check(ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, file), .connect)
        }
        var require = tls.verifyCertificate ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER
        try check(ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require), .connect)
        // Per-session TLS options take effect only in a new context.
        var isServer: Int32 = 0
        try check(ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &isServer), .connect)
    }

    /// Opens the connection now rather than on the first request (`ldap_connect`), bounded by the network timeout.
    func connect() throws(LDAPError) {
        guard !connected else { return }
        try check(ldap_connect(ld), .connect)
    }

    /// Upgrades the connection to TLS (`ldap_start_tls_s`).
    func startTLS() throws(LDAPError) {
        try check(ldap_start_tls_s(ld, nil, nil), .startTLS)
    }

    /// SASL EXTERNAL: the identity comes from the transport (`ldap_sasl_interactive_bind_s`).
    func bindExternal() throws(LDAPError) {
        try check(cldap_sasl_external_bind(ld), .bind)
    }

    /// SASL GSSAPI as `principal` with its key from `keytab`; tickets go to a memory cache named for the identity, so
    /// that every connection of this process with it reuses them while they are valid. What the GSS-API or the KDC
    /// said is in the error.
    func bindGSSAPI(principal: String, keytab: String) throws(LDAPError) {
        // Named for the identity; only letters and digits of it, so no name can reach outside the MEMORY: cache type.
        let letters = principal.unicodeScalars.filter {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))
        }
        let cache =
            "MEMORY:siteloc-\(String(String.UnicodeScalarView(letters)))-\(UInt(bitPattern: (principal + "\u{0}" + keytab).hashValue))"
        var error = [CChar](repeating: 0, count: 512)
        let rc = cldap_sasl_gssapi_bind(ld, principal, keytab, cache, &error, error.count)
        guard rc == LDAP_SUCCESS else {
            var failure = lastError(.bind, code: rc)
            let said = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !said.isEmpty { failure.diagnosticMessage = said }
            failure.dn = principal
            throw failure
        }
    }

    /// Sends a simple bind (`ldap_sasl_bind` with `LDAP_SASL_SIMPLE`); the password is not kept.
    func sendSimpleBind(dn: String, password: Secret) throws(LDAPError) -> Int32 {
        var messageID: Int32 = 0
        let rc = password.bytes.withUnsafeBufferPointer { buffer in
            var credential = berval(
                bv_len: ber_len_t(buffer.count),
                bv_val: UnsafeMutablePointer(
                    mutating: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self)
                )
            )
            return ldap_sasl_bind(ld, dn, nil, &credential, nil, nil, &messageID)
        }
        try check(rc, .bind, dn: dn)
        return messageID
    }

    /// Waits up to `timeout` for the result of one request (`ldap_result` with `LDAP_MSG_ALL`). Used only while
    /// a connection is being set up, when nothing else is in flight.
    func waitForResult(
        of messageID: Int32,
        timeout: Duration,
        operation: LDAPOperation
    ) throws(LDAPError)
        -> LDAPResultInfo
    {
        var limit = timeval(timeout)
        var message: OpaquePointer?
        let rc = ldap_result(ld, messageID, LDAP_MSG_ALL, &limit, &message)
        if rc == 0 {
            ldap_abandon_ext(ld, messageID, nil, nil)
            throw LDAPError(code: .timeout, operation: operation, server: uri)
        }
        guard rc > 0, let message else { throw lastError(operation) }
        defer { ldap_msgfree(message) }
        return parseResult(message)
    }

    /// The socket, for `poll` (`LDAP_OPT_DESC`).
    var fileDescriptor: Int32 {
        var descriptor: Int32 = -1
        ldap_get_option(ld, LDAP_OPT_DESC, &descriptor)
        return descriptor
    }

    // MARK: Sending requests

    func sendSearch(_ request: LDAPSearchRequest) throws(LDAPError) -> Int32 {
        let scope: Int32 =
            switch request.scope {
            case .base: LDAP_SCOPE_BASE
            case .oneLevel: LDAP_SCOPE_ONELEVEL
            case .subtree: LDAP_SCOPE_SUBTREE
            }
        let base = request.base.string
        var controls: [OpaquePointer?] = []
        if let pageSize = request.pageSize {
            var control: UnsafeMutablePointer<LDAPControl>?
            let rc = withCBerval(request.pageCookie) { cookie in
                ldap_create_page_control(ld, ber_int_t(pageSize), cookie, 0, &control)
            }
            try check(rc, .search, dn: base)
            controls.append(OpaquePointer(control))
        }
        defer { for control in controls { ldap_control_free(UnsafeMutablePointer(control)) } }
        var messageID: Int32 = 0
        let rc = withCStringArray(request.attributes) { attributes in
            withNullTerminated(controls.map { UnsafeMutablePointer<LDAPControl>($0) }) { serverControls in
                ldap_search_ext(
                    ld,
                    base,
                    scope,
                    request.filter.string,
                    attributes,
                    0,
                    serverControls,
                    nil,
                    nil,
                    Int32(clamping: request.sizeLimit),
                    &messageID
                )
            }
        }
        if rc != LDAP_SUCCESS {
            var error = lastError(.search, dn: base, code: rc)
            error.filter = request.filter.string
            throw error
        }
        return messageID
    }

    func sendAdd(dn: DistinguishedName, attributes: [LDAPAttribute]) throws(LDAPError) -> Int32 {
        let mods = attributes.map { LDAPModification(.add, $0) }
        var messageID: Int32 = 0
        let rc = withCModifications(mods) { ldap_add_ext(ld, dn.string, $0, nil, nil, &messageID) }
        try check(rc, .add, dn: dn.string)
        return messageID
    }

    func sendModify(dn: DistinguishedName, modifications: [LDAPModification]) throws(LDAPError) -> Int32 {
        var messageID: Int32 = 0
        let rc = withCModifications(modifications) { ldap_modify_ext(ld, dn.string, $0, nil, nil, &messageID) }
        try check(rc, .modify, dn: dn.string)
        return messageID
    }

    func sendDelete(dn: DistinguishedName) throws(LDAPError) -> Int32 {
        var messageID: Int32 = 0
        try check(ldap_delete_ext(ld, dn.string, nil, nil, &messageID), .delete, dn: dn.string)
        return messageID
    }

    func sendCompare(dn: DistinguishedName, attribute: String, value: [UInt8]) throws(LDAPError) -> Int32 {
        var messageID: Int32 = 0
        let rc = withCBerval(value) { ldap_compare_ext(ld, dn.string, attribute, $0, nil, nil, &messageID) }
        try check(rc, .compare, dn: dn.string)
        return messageID
    }

    /// Tells the server to drop a request and libldap to discard anything that still arrives for it.
    func abandon(_ messageID: Int32) {
        ldap_abandon_ext(ld, messageID, nil, nil)
    }

    // MARK: Receiving

    /// The next complete message for any request, without waiting (`ldap_result` with a zero timeout and
    /// `LDAP_MSG_ONE`); nil when none is ready.
    func nextMessage() throws(LDAPError) -> LDAPMessageBox? {
        var noWait = cldap_timeval(0, 0)
        var message: OpaquePointer?
        let rc = ldap_result(ld, LDAP_RES_ANY, LDAP_MSG_ONE, &noWait, &message)
        if rc == 0 { return nil }
        guard rc > 0, let message else { throw lastError(.search) }
        return LDAPMessageBox(message)
    }

    func messageID(of message: LDAPMessageBox) -> Int32 { ldap_msgid(message.pointer) }
    func messageType(of message: LDAPMessageBox) -> Int32 { ldap_msgtype(message.pointer) }

    /// Runs a search to its end on this thread (`ldap_result` with `LDAP_MSG_ALL` for its message ID), waiting at
    /// most `timeout` for the answer. Used by ``LDAPSession``, on the session loop's thread.
    func searchToEnd(_ request: LDAPSearchRequest, timeout: Duration) throws(LDAPError) -> LDAPSearchResult {
        let messageID = try sendSearch(request)
        var limit = timeval(timeout)
        var chain: OpaquePointer?
        // libldap's limit restarts while a server trickles its answer; the watch's does not.
        let deadline = watch.deadline(after: timeout)
        let rc = ldap_result(ld, messageID, LDAP_MSG_ALL, &limit, &chain)
        deadline.cancel()
        if rc == 0 || (rc < 0 && watch.hasFired) {
            ldap_abandon_ext(ld, messageID, nil, nil)
            var error = LDAPError(code: .timeout, operation: .search, dn: request.base.string, server: uri)
            error.filter = request.filter.string
            throw error
        }
        guard rc > 0, let chain else { throw lastError(.search, dn: request.base.string) }
        defer { ldap_msgfree(chain) }
        var entries: [LDAPEntry] = []
        var info = LDAPResultInfo(code: .other, matchedDN: nil, diagnosticMessage: nil)
        var message = ldap_first_message(ld, chain)
        while let current = message {
            switch ldap_msgtype(current) {
            case Self.searchEntry: entries.append(entry(from: current))
            case Self.searchResult: info = parseResult(current)
            default: break
            }
            message = ldap_next_message(ld, current)
        }
        guard info.code == .success else {
            throw LDAPError(
                code: info.code,
                operation: .search,
                dn: request.base.string,
                diagnosticMessage: info.diagnosticMessage,
                matchedDN: info.matchedDN,
                server: uri,
                filter: request.filter.string
            )
        }
        return LDAPSearchResult(entries: entries, nextPageCookie: info.pageCookie)
    }

    /// Reads a search entry: its DN and every attribute with its values.
    func entry(from message: LDAPMessageBox) -> LDAPEntry {
        entry(from: message.pointer)
    }

    private func entry(from pointer: OpaquePointer) -> LDAPEntry {
        let dnPointer = ldap_get_dn(ld, pointer)
        let dn = dnPointer.map { String(cString: $0) } ?? ""
        ldap_memfree(dnPointer)
        var attributes: [LDAPAttribute] = []
        var ber: OpaquePointer?
        var name = ldap_first_attribute(ld, pointer, &ber)
        while let current = name {
            var values: [[UInt8]] = []
            if let list = ldap_get_values_len(ld, pointer, current) {
                var index = 0
                while let value = list[index] {
                    let bytes = UnsafeRawBufferPointer(start: value.pointee.bv_val, count: Int(value.pointee.bv_len))
                    values.append(Array(bytes))
                    index += 1
                }
                ldap_value_free_len(list)
            }
            attributes.append(LDAPAttribute(String(cString: current), values: values))
            ldap_memfree(current)
            name = ldap_next_attribute(ld, pointer, ber)
        }
        if let ber { ber_free(ber, 0) }
        return LDAPEntry(dn: dn, attributes: attributes)
    }

    /// Reads a result message: its code, matched DN, diagnostic message and the paged-results cookie, if any.
    func parseResult(_ message: LDAPMessageBox) -> LDAPResultInfo {
        parseResult(message.pointer)
    }

    private func parseResult(_ message: OpaquePointer) -> LDAPResultInfo {
        var code: Int32 = 0
        var matched: UnsafeMutablePointer<CChar>?
        var diagnostic: UnsafeMutablePointer<CChar>?
        var serverControls: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
        let rc = ldap_parse_result(ld, message, &code, &matched, &diagnostic, nil, &serverControls, 0)
        defer {
            ldap_memfree(matched)
            ldap_memfree(diagnostic)
            if let serverControls { ldap_controls_free(serverControls) }
        }
        guard rc == LDAP_SUCCESS else {
            return LDAPResultInfo(code: LDAPResultCode(rawValue: rc), matchedDN: nil, diagnosticMessage: nil)
        }
        var info = LDAPResultInfo(
            code: LDAPResultCode(rawValue: code),
            matchedDN: matched.map { String(cString: $0) },
            diagnosticMessage: diagnostic.map { String(cString: $0) }
        )
        if let serverControls, let paged = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, serverControls, nil) {
            var count: ber_int_t = 0
            var cookie = berval(bv_len: 0, bv_val: nil)
            if ldap_parse_pageresponse_control(ld, paged, &count, &cookie) == LDAP_SUCCESS {
                if cookie.bv_len > 0, let bytes = cookie.bv_val {
                    info.pageCookie = Array(UnsafeRawBufferPointer(start: bytes, count: Int(cookie.bv_len)))
                }
                ber_memfree(cookie.bv_val)
            }
        }
        return info
    }

    // MARK: Errors

    private func check(_ rc: Int32, _ operation: LDAPOperation, dn: String? = nil) throws(LDAPError) {
        if rc != LDAP_SUCCESS { throw lastError(operation, dn: dn, code: rc) }
    }

    /// The session's last error (`LDAP_OPT_RESULT_CODE`, `LDAP_OPT_DIAGNOSTIC_MESSAGE`, `LDAP_OPT_MATCHED_DN`).
    func lastError(_ operation: LDAPOperation, dn: String? = nil, code: Int32? = nil) -> LDAPError {
        var sessionCode: Int32 = 0
        ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &sessionCode)
        var diagnostic: UnsafeMutablePointer<CChar>?
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic)
        defer { ldap_memfree(diagnostic) }
        var matched: UnsafeMutablePointer<CChar>?
        ldap_get_option(ld, LDAP_OPT_MATCHED_DN, &matched)
        defer { ldap_memfree(matched) }
        let resolved = (code != nil && code != LDAP_SUCCESS && code != LDAP_OTHER) ? code! : sessionCode
        return LDAPError(
            code: LDAPResultCode(rawValue: resolved == LDAP_SUCCESS ? LDAP_OTHER : resolved),
            operation: operation,
            dn: dn,
            diagnosticMessage: diagnostic.map { String(cString: $0) },
            matchedDN: matched.map { String(cString: $0) },
            server: uri
        )
    }
}

/// A result message, read on the loop thread.
struct LDAPResultInfo {
    var code: LDAPResultCode
    var matchedDN: String?
    var diagnosticMessage: String?
    var pageCookie: [UInt8]?
}

/// Owns one `LDAPMessage *` and frees it (`ldap_msgfree`).
final class LDAPMessageBox {
    fileprivate let pointer: OpaquePointer

    fileprivate init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        ldap_msgfree(pointer)
    }
}

// MARK: C arrays

private func withCStringArray<R>(
    _ strings: [String],
    _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> R
) -> R {
    if strings.isEmpty { return body(nil) }
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

private func withNullTerminated<T, R>(
    _ items: [UnsafeMutablePointer<T>?],
    _ body: (UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) -> R
) -> R {
    if items.isEmpty { return body(nil) }
    var terminated = items + [nil]
    return terminated.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

private func withCBerval<R>(_ bytes: [UInt8]?, _ body: (UnsafeMutablePointer<berval>?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBufferPointer { buffer in
        var value = berval(
            bv_len: ber_len_t(buffer.count),
            bv_val: UnsafeMutablePointer(
                mutating: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self)
            )
        )
        return body(&value)
    }
}

/// Builds the NULL-terminated `LDAPMod *` array libldap wants, with binary values, and frees it afterwards.
private func withCModifications<R>(
    _ modifications: [LDAPModification],
    _ body: (UnsafeMutablePointer<UnsafeMutablePointer<LDAPMod>?>) -> R
) -> R {
    var allocations: [UnsafeMutableRawPointer] = []
    defer { for allocation in allocations { free(allocation) } }
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = calloc(max(count, 1), MemoryLayout<T>.stride)!
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }
    let list = allocate(UnsafeMutablePointer<LDAPMod>?.self, count: modifications.count + 1)
    for (index, modification) in modifications.enumerated() {
        let mod = allocate(LDAPMod.self, count: 1)
        let operation: Int32 =
            switch modification.operation {
            case .add: LDAP_MOD_ADD
            case .delete: LDAP_MOD_DELETE
            case .replace: LDAP_MOD_REPLACE
            }
        mod.pointee.mod_op = operation | LDAP_MOD_BVALUES
        let name = strdup(modification.attribute.name)!
        allocations.append(UnsafeMutableRawPointer(name))
        mod.pointee.mod_type = name
        let values = modification.attribute.values
        let valueList = allocate(UnsafeMutablePointer<berval>?.self, count: values.count + 1)
        for (valueIndex, value) in values.enumerated() {
            let entry = allocate(berval.self, count: 1)
            let bytes = allocate(CChar.self, count: value.count)
            value.withUnsafeBytes { source in
                if let base = source.baseAddress {
                    UnsafeMutableRawPointer(bytes).copyMemory(from: base, byteCount: source.count)
                }
            }
            entry.pointee = berval(bv_len: ber_len_t(value.count), bv_val: bytes)
            valueList[valueIndex] = entry
        }
        valueList[values.count] = nil
        cldap_mod_set_bvalues(mod, values.isEmpty && modification.operation != .add ? nil : valueList)
        list[index] = mod
    }
    list[modifications.count] = nil
    return body(list)
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = cldap_timeval(Int(seconds), Int(attoseconds / 1_000_000_000_000))
    }
}
