import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP server on a thread of its own that answers each request (one per connection) with the bytes
/// `answer` makes of it, then closes: a DP that ignores Range, or a network that cuts a download short.
final class ScriptedServer: Sendable {
    let port: Int
    private let listener: Int32
    private let stopped = Atomic(false)

    /// Whole content and 200, whatever `Range` asks.
    static func ignoringRange(_ content: Data) throws -> ScriptedServer {
        let head = Data(
            ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(content.count)\r\n"
                + "Connection: close\r\n\r\n").utf8
        )
        return try ScriptedServer { request in request.starts(with: Data("HEAD ".utf8)) ? head : head + content }
    }

    /// Passes each request to `upstream` and its answer back, cut after `bytes` of the body: a connection that
    /// breaks in the middle of a download.
    static func cutting(upstream: Int, after bytes: Int) throws -> ScriptedServer {
        try ScriptedServer { request in
            var request = request
            if let end = request.range(of: Data("\r\n".utf8)) {
                request.insert(contentsOf: Data("\r\nConnection: close".utf8), at: end.lowerBound)
            }
            guard let answer = try? RawHTTP.exchangeBlocking(port: upstream, request),
                let end = answer.range(of: Data("\r\n\r\n".utf8))
            else { return Data() }
            return answer.prefix(end.upperBound - answer.startIndex + bytes)
        }
    }

    /// `pace`: the answer goes one byte at a time, this long apart (a peer trickling its answer).
    init(pace: Duration? = nil, answer: @escaping @Sendable (Data) -> Data) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0
                    && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else { throw RawHTTPError("cannot listen: \(errno)") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in
            while !stopped.load(ordering: .relaxed) {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { continue }
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var request = Data()
                var buffer = [UInt8](repeating: 0, count: 4_096)
                while request.range(of: Data("\r\n\r\n".utf8)) == nil, request.count < 65_536 {
                    let count = read(connection, &buffer, buffer.count)
                    if count <= 0 { break }
                    request.append(contentsOf: buffer[0..<count])
                }
                let step = pace == nil ? Int.max : 1
                let pause = pace.map {
                    UInt32($0.components.seconds * 1_000_000 + $0.components.attoseconds / 1_000_000_000_000)
                }
                answer(request).withUnsafeBytes { bytes in
                    var offset = 0
                    while offset < bytes.count, !stopped.load(ordering: .relaxed) {
                        let written = send(
                            connection,
                            bytes.baseAddress! + offset,
                            min(step, bytes.count - offset),
                            Int32(MSG_NOSIGNAL)
                        )
                        if written <= 0 { break }
                        offset += written
                        if let pause { usleep(pause) }
                    }
                }
                close(connection)
            }
            close(listener)
        }
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
    }
}
