import Glibc
public import SiteModel

/// A TCP socket on 127.0.0.1 that accepts connections (the kernel completes the handshake) but never answers:
/// the directory that is up but silent, for timeout tests and benchmarks.
public final class SilentListener {
    public let port: Int
    private let fd: Int32

    public init() throws(SilentListenerError) {
        (fd, port) = try Self.listeningSocket(backlog: 16)
    }

    /// A TCP socket listening on 127.0.0.1 at a port the kernel chose, and that port.
    static func listeningSocket(backlog: Int32) throws(SilentListenerError) -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            close(fd)
            throw SilentListenerError(errno: errno)
        }
        var length = size
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    deinit { close(fd) }

    /// A loopback port with nothing listening: connections are refused at once.
    public static func closedPort() throws(SilentListenerError) -> Int {
        let listener = try SilentListener()
        return listener.port  // closed when `listener` goes away
    }
}

public struct SilentListenerError: KindedError {
    public var kind: FailureKind { .internalError }
    public let errno: Int32
    public var description: String { "cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))" }
}
