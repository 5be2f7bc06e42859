import Foundation
import Glibc

/// A directory server on 127.0.0.1 that misbehaves the way a hostile or broken peer does, for tests that every
/// connection path gives up within its timeout. Each connection runs on a thread of its own; `stop()` ends them.
public final class HostileDirectory: @unchecked Sendable {
    // Why @unchecked Sendable is sound: `listener`, `port` and `behaviour` are immutable after init; `connections`
    // and `stopped` are only touched under `lock`.

    public enum Behaviour: String, Sendable, CaseIterable {
        /// Accepts and never says anything (the kernel accepts; nobody reads).
        case silent
        /// Answers the first request (the bind, or an anonymous client's probe) at once, every later one a byte a
        /// second.
        case trickleAfterFirst
        /// Sends its answers, and for TLS a handshake record, a byte a second.
        case trickle
        /// Answers with bytes that are not LDAP.
        case garbage
        /// Accepts and resets the connection.
        case reset
        /// Announces an answer of 2 GiB, then sends nothing.
        case hugeLength
    }

    public let port: Int
    public let behaviour: Behaviour
    private let listener: Int32
    private let lock = NSLock()
    private var connections: [Int32] = []
    private var stopped = false

    public init(_ behaviour: Behaviour) throws(SilentListenerError) {
        self.behaviour = behaviour
        (listener, port) = try SilentListener.listeningSocket(backlog: 64)
        guard behaviour != .silent else { return }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "hostile-directory"
        thread.start()
    }

    deinit { stop() }

    public var ldapURI: String { "ldap://127.0.0.1:\(port)" }
    public var ldapsURI: String { "ldaps://127.0.0.1:\(port)" }

    /// Closes the listener and every connection; the connections' threads end.
    public func stop() {
        let open: [Int32]? = lock.withLock {
            guard !stopped else { return nil }
            stopped = true
            return connections
        }
        guard let open else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            let admitted = lock.withLock {
                guard !stopped else { return false }
                connections.append(fd)
                return true
            }
            guard admitted else {
                close(fd)
                return
            }
            let thread = Thread { [self] in
                serve(fd)
                lock.withLock { connections.removeAll { $0 == fd } }
                close(fd)
            }
            thread.start()
        }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func serve(_ fd: Int32) {
        switch behaviour {
        case .silent:
            return
        case .reset:
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        case .garbage:
            _ = readMessage(fd)
            send(
                fd,
                Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8) + (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            )
            hold(fd)
        case .hugeLength:
            _ = readMessage(fd)
            send(fd, [0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF, 0x02, 0x01, 0x01])
            hold(fd)
        case .trickle:
            // Whatever the client sent first (an LDAP request or a TLS ClientHello), the answer crawls.
            var first = [UInt8](repeating: 0, count: 4096)
            guard recv(fd, &first, first.count, 0) > 0 else { return }
            let answer: [UInt8] =
                first[0] == 0x16
                ? [0x16, 0x03, 0x03, 0x10, 0x00, 0x02, 0x00, 0x0F, 0xFC] + [UInt8](repeating: 0x03, count: 64)
                : Self.success(for: first)
            for byte in answer where !isStopped {
                send(fd, [byte])
                sleep(1)
            }
            hold(fd)
        case .trickleAfterFirst:
            var answered = 0
            while !isStopped, let request = readMessage(fd) {
                let operation = Self.operationIndex(request)
                if operation < request.count, request[operation] == 0x42 { return }  // unbind
                let answer = Self.success(for: request)
                if answered == 0 {
                    send(fd, answer)
                } else {
                    for byte in answer where !isStopped {
                        send(fd, [byte])
                        sleep(1)
                    }
                }
                answered += 1
            }
        }
    }

    /// Keeps the connection open without a word until the peer or `stop()` closes it.
    private func hold(_ fd: Int32) {
        var byte: UInt8 = 0
        while !isStopped, recv(fd, &byte, 1, 0) > 0 {}
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// One BER-encoded LDAP message (SEQUENCE with a short or long length), or nil when the peer is gone.
    private func readMessage(_ fd: Int32) -> [UInt8]? {
        guard let head = readExactly(fd, 2), head[0] == 0x30 else { return nil }
        var length = Int(head[1])
        var message = head
        if head[1] & 0x80 != 0 {
            let count = Int(head[1] & 0x7F)
            guard count <= 4, let bytes = readExactly(fd, count) else { return nil }
            message += bytes
            length = bytes.reduce(0) { $0 << 8 | Int($1) }
        }
        guard length <= 1 << 20, let body = readExactly(fd, length) else { return nil }
        return message + body
    }

    private func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, count - done, 0) }
            guard got > 0 else { return nil }
            done += got
        }
        return bytes
    }

    /// Where the protocol operation's tag is in a message: after the SEQUENCE header and the message ID.
    static func operationIndex(_ message: [UInt8]) -> Int {
        var index = 1
        index += message[index] & 0x80 != 0 ? Int(message[index] & 0x7F) + 1 : 1
        guard index + 1 < message.count else { return 0 }
        return index + 2 + Int(message[index + 1])
    }

    /// A successful answer to a bind (BindResponse) or anything else (SearchResultDone), with the request's ID.
    static func success(for request: [UInt8]) -> [UInt8] {
        let operation = operationIndex(request)
        guard operation > 2, operation < request.count else { return [0x30, 0x00] }
        let messageID = Array(request[(operation - Int(request[operation - 1]) - 2)..<operation])
        let tag: UInt8 = request[operation] == 0x60 ? 0x61 : 0x65
        let result: [UInt8] = [tag, 0x07, 0x0A, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]
        let body = messageID + result
        return [0x30, UInt8(body.count)] + body
    }
}
