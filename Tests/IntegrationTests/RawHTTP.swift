import BlockingWork
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 request written as is over a socket, and the answer read to the end: for requests no HTTP client
/// would send (unnormalised paths, encoded slashes). Every wait is bounded by five seconds.
enum RawHTTP {
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    /// Off Swift's cooperative threads: a blocking read there would starve the server under test.
    static func send(port: Int, _ request: String) async throws -> Answer {
        try await withBlockingWork { try sendBlocking(port: port, request) }
    }

    /// The raw bytes of the answer to `request` (the server closes after it).
    static func exchangeBlocking(port: Int, _ request: Data) throws -> Data {
        let socket = try LoopbackSocket.connect(port: port, timeoutSeconds: 5)
        defer { close(socket) }
        let bytes = [UInt8](request)
        guard write(socket, bytes, bytes.count) == bytes.count else { throw RawHTTPError("write: \(errno)") }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(socket, &buffer, buffer.count)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return received
    }

    static func sendBlocking(port: Int, _ request: String) throws -> Answer {
        let received = try exchangeBlocking(port: port, Data(request.utf8))
        guard let end = received.range(of: Data("\r\n\r\n".utf8)) else {
            throw RawHTTPError("no complete answer: \(String(decoding: received, as: UTF8.self))")
        }
        let head = String(decoding: received[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(head[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        return Answer(status: status, headers: headers, body: received[end.upperBound...])
    }
}

struct RawHTTPError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A TCP connection to a port on 127.0.0.1, for tests that speak to a server byte by byte.
enum LoopbackSocket {
    /// The connected socket; `timeoutSeconds` bounds each read and write, `receiveBuffer` shrinks the kernel's
    /// receive buffer (a client that reads slowly, or not at all).
    static func connect(port: Int, timeoutSeconds: Int? = nil, receiveBuffer: Int32? = nil) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw RawHTTPError("socket: \(errno)") }
        if let timeoutSeconds {
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        if var size = receiveBuffer {
            setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            close(socket)
            throw RawHTTPError("connect: \(error)")
        }
        return socket
    }
}

/// A child process's end, awaited on the event (its termination handler), not by polling.
enum ProcessEnd {
    /// Starts `process` so that ``wait(for:seconds:)`` can await it; sets its termination handler.
    static func run(_ process: Process) throws -> DispatchSemaphore {
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        try process.run()
        return ended
    }

    /// Whether it ended within `seconds`; blocks the calling thread (call it off the cooperative pool).
    static func wait(_ ended: DispatchSemaphore, seconds: Int) -> Bool {
        ended.wait(timeout: .now() + .seconds(seconds)) == .success
    }
}
