import BlockingWork
import Foundation
import SiteModel
import SiteServices
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The hostile review's findings against the HTTP services (docs/hardening.md, "HTTP services"): idle, half-sent,
/// trickled and never-TLS connections are closed; one address cannot take a listener; downloads whose clients do
/// not read are capped and dropped. Each waits on a socket, never on a sleep of its own: the server's closing is the
/// event. Limits are small here so that the waits are short.
@Suite(.timeLimit(.minutes(2))) struct ServiceLimitsTests {
    static let limits = ServiceLimits(
        requestTimeout: .seconds(1),
        sendTimeout: .seconds(1),
        connectionsPerListener: 64,
        connectionsPerAddress: 6,
        concurrentDownloads: 2
    )

    @Test func silentHalfSentAndTrickledConnectionsAreClosedWithinTheRequestTimeout() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        try await fixture.serving(limits: Self.limits) {
            let port = try #require(try fixture.url("p01-mp.corp.contoso.com").port)
            try await withBlockingWork {
                let silent = try Peer(port: port)
                let halfSent = try Peer(port: port)
                try halfSent.send("GET /siteloc/v1/health HTTP/1.1\r\nHost: x\r\n")
                for peer in [silent, halfSent] {
                    let closedAfter = try peer.secondsUntilClosed(within: 5)
                    #expect(closedAfter < 3, "closed after \(closedAfter) s")
                }
                // One byte every 200 ms keeps the connection busy but never completes the headers.
                let trickle = try Peer(port: port)
                let request =
                    Array("GET /siteloc/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
                    + Array(repeating: UInt8(ascii: "a"), count: 100)
                let started = ContinuousClock.now
                var closed = false
                for byte in request {
                    guard (try? trickle.send(bytes: [byte])) != nil, trickle.isOpen else {
                        closed = true
                        break
                    }
                    usleep(200_000)
                }
                #expect(closed && ContinuousClock.now - started < .seconds(4))
            }
        }
    }

    @Test func oneAddressCannotTakeAListenerAndTheOthersStillAnswer() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        var limits = Self.limits
        limits.requestTimeout = .seconds(20)
        try await fixture.serving(limits: limits) {
            let port = try #require(try fixture.url("p01-mp.corp.contoso.com").port)
            try await withBlockingWork {
                // Each held connection is answered once first, so the server has counted it before the extra one
                // comes (connections become active on two event loops, in any order).
                let held = try (0..<limits.connectionsPerAddress).map { _ in
                    let peer = try Peer(port: port)
                    try peer.send("GET /siteloc/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    try peer.awaitAnswer(within: 5)
                    return peer
                }
                // One more from the same address is closed at once, while those it holds stay open.
                let extra = try Peer(port: port)
                #expect(try extra.secondsUntilClosed(within: 3) < 1)
                let stillOpen = held.filter { $0.isOpen }.count
                #expect(stillOpen == held.count)
            }
            // Another listener of the same process answers as ever.
            let other = try await Self.get(fixture, "cen-mp.corp.contoso.com", "/siteloc/v1/health")
            #expect(other.status == 200)
        }
    }

    @Test func downloadsThatNeverReadAreCappedAndDropped() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        // Larger than what the kernel's socket buffers take in, so that a client that reads nothing stalls it.
        let content = Data((0..<(24 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try fixture.place("CEN00001", at: "P01", bytes: content)
        try await fixture.serving(limits: Self.limits) {
            let port = try #require(try fixture.url("p01-dp.corp.contoso.com").port)
            try await withBlockingWork {
                let get = "GET /SMS_DP_SMSPKG$/CEN00001/ HTTP/1.1\r\nHost: p01-dp\r\n\r\n"
                let stalled = try (0..<Self.limits.concurrentDownloads).map { _ in
                    let peer = try Peer(port: port, receiveBuffer: 4096)
                    try peer.send(get)
                    return peer
                }
                // Each holds its place once the DP has started answering it.
                for peer in stalled { try peer.awaitReadable(within: 5) }
                // A third download while two hold their places: 503 with Retry-After, at once.
                let third = try RawHTTP.sendBlocking(
                    port: port,
                    get.replacingOccurrences(of: "\r\n\r\n", with: "\r\nConnection: close\r\n\r\n")
                )
                #expect(third.status == 503 && third.headers["retry-after"] == "5")
                // The stalled ones are dropped after the send timeout: their places are free again, and what they
                // then read ends short of the content.
                let deadline = ContinuousClock.now + .seconds(10)
                var answer = third
                while answer.status == 503, ContinuousClock.now < deadline {
                    usleep(100_000)
                    answer = try RawHTTP.sendBlocking(
                        port: port,
                        get.replacingOccurrences(of: "\r\n\r\n", with: "\r\nConnection: close\r\n\r\n")
                    )
                }
                #expect(answer.status == 200 && answer.body == content)
                for peer in stalled {
                    let received = try peer.readToEnd(within: 10)
                    #expect(received < content.count, "a stalled download got \(received) bytes")
                }
            }
        }
    }

    @Test func aNativeListenerClosesAConnectionThatNeverStartsTLS() async throws {
        let fixture = try ServicesFixture.withNativeP02()
        defer { fixture.remove() }
        try await fixture.serving(limits: Self.limits) {
            let url = try fixture.url("p02-mp.fabrikam.com")
            #expect(url.scheme == "https")
            let port = try #require(url.port)
            try await withBlockingWork {
                let peer = try Peer(port: port)
                #expect(try peer.secondsUntilClosed(within: 5) < 3)
            }
        }
    }

    static func get(_ fixture: ServicesFixture, _ host: String, _ path: String) async throws -> RawHTTP.Answer {
        try await RawHTTP.send(
            port: try #require(try fixture.url(host).port),
            "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
        )
    }
}

/// A raw TCP client on loopback that sends what it is told and watches for the server's close.
final class Peer {
    let socket: Int32

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        socket = try LoopbackSocket.connect(port: port, receiveBuffer: receiveBuffer)
    }

    deinit { close(socket) }

    func send(_ text: String) throws { try send(bytes: Array(text.utf8)) }

    func send(bytes: [UInt8]) throws {
        guard Glibc.send(socket, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw RawHTTPError("send: \(errno)")
        }
    }

    /// Whether the server has not closed the connection (nothing to read, no end of stream).
    var isOpen: Bool {
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return true }
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    /// Waits until the server has sent something, without reading it.
    func awaitReadable(within limit: Double) throws {
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(limit * 1000)) > 0 else {
            throw RawHTTPError("nothing from the server within \(limit) s")
        }
    }

    /// Waits until the server sends something, and reads what has come.
    func awaitAnswer(within limit: Double) throws {
        try awaitReadable(within: limit)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        _ = recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT))
    }

    /// Reads until the server ends the connection; the bytes received. Throws when it is still open after `limit`.
    func readToEnd(within limit: Double) throws -> Int {
        let started = ContinuousClock.now
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now - started < .seconds(limit) {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) > 0 else { continue }
            let count = recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count == 0 || (count < 0 && errno != EAGAIN) { return total }
            total += max(0, count)
        }
        throw RawHTTPError("the server kept the connection open for \(limit) s")
    }

    /// Seconds until the server closes the connection (end of stream or reset), reading and discarding what it
    /// sends unless `draining` is false (a client that reads nothing); throws when it stays open for `limit` seconds.
    func secondsUntilClosed(within limit: Double, draining: Bool = true) throws -> Double {
        let started = ContinuousClock.now
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now - started < .seconds(limit) {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 50)
            let hungUp = descriptor.revents & Int16(POLLHUP | POLLERR) != 0
            if ready > 0, draining || hungUp {
                let count = recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count == 0 || (count < 0 && errno != EAGAIN) {
                    let elapsed = ContinuousClock.now - started
                    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                }
            } else if !draining {
                // Not reading: a reset shows as an error on the socket.
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &length)
                if error != 0 {
                    let elapsed = ContinuousClock.now - started
                    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                }
            }
        }
        throw RawHTTPError("the server kept the connection open for \(limit) s")
    }
}
