import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What one site-system listener grants its clients, so that no client — idle, slow or hostile — can hold more than
/// its share of the process that also runs the site servers (docs/hardening.md, "HTTP services").
public struct ServiceLimits: Sendable {
    /// From a connection's start, or the end of the previous answer on it, to the end of a whole request (the TLS
    /// handshake, the headers and a body): a connection that sends nothing, trickles its headers or never starts TLS
    /// is closed after this.
    public var requestTimeout: Duration
    /// A download that cannot hand the connection another chunk for this long is dropped: its client stopped reading.
    public var sendTimeout: Duration
    /// Connections one listener holds at once; past it the listener stops accepting, and the kernel's backlog waits.
    public var connectionsPerListener: Int
    /// Connections one client address may hold on one listener; one more is closed at once.
    public var connectionsPerAddress: Int
    /// Downloads the whole process serves at once (each holds up to ``ContentChunks/window`` chunks of memory);
    /// one more is answered 503 with `Retry-After`.
    public var concurrentDownloads: Int

    public init(
        requestTimeout: Duration = .seconds(10),
        sendTimeout: Duration = .seconds(30),
        connectionsPerListener: Int = 256,
        connectionsPerAddress: Int = 32,
        concurrentDownloads: Int = 128
    ) {
        self.requestTimeout = requestTimeout
        self.sendTimeout = sendTimeout
        self.connectionsPerListener = connectionsPerListener
        self.connectionsPerAddress = connectionsPerAddress
        self.concurrentDownloads = concurrentDownloads
    }

    /// The limits for `listeners` listeners in one process whose descriptor limit is `descriptors`: together they
    /// keep at least half of the descriptors for the site servers, their databases, files and children.
    public static func sharing(descriptors: Int, among listeners: Int) -> ServiceLimits {
        var limits = ServiceLimits()
        let share = max(8, descriptors / 2 / max(1, listeners))
        limits.connectionsPerListener = min(limits.connectionsPerListener, share)
        limits.connectionsPerAddress = min(limits.connectionsPerAddress, max(2, share / 4))
        return limits
    }
}

/// The connections one listener holds, by client address.
final class ConnectionCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Counts a connection from `address`; false (and nothing counted) when it would be one too many.
    func admit(_ address: String, limit: Int) -> Bool {
        counts.withLock { counts in
            let count = counts[address, default: 0]
            guard count < limit else { return false }
            counts[address] = count + 1
            return true
        }
    }

    func release(_ address: String) {
        counts.withLock { counts in
            let count = counts[address, default: 1] - 1
            counts[address] = count > 0 ? count : nil
        }
    }
}

/// Per connection, on its event loop: closes a connection whose client address already has its share, and one that
/// does not complete a request within the request timeout of its start or of the previous answer. Sits after the
/// HTTP decoder (and after TLS), so a handshake that never ends and headers that never end are both bounded.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ServiceLimits
    private let counts: ConnectionCounts
    private var deadline: Scheduled<Void>?
    private var answering = 0

    init(limits: ServiceLimits, counts: ConnectionCounts) {
        self.limits = limits
        self.counts = counts
    }

    private var started = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard counts.admit(address, limit: limits.connectionsPerAddress) else {
            // On the loop's next turn: the channel may not be registered yet while its pipeline is being built.
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.execute { loopBound.value.close(promise: nil) }
            return
        }
        let counts = counts
        context.channel.closeFuture.whenComplete { _ in counts.release(address) }
        arm(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        stall?.cancel()
        stall = nil
    }

    /// A connection that stays unwritable (its client reads nothing) for the send timeout is closed, which ends the
    /// response writing to it: a client that reads slowly makes it writable again and keeps its download.
    private var stall: Scheduled<Void>?

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        stall?.cancel()
        stall = nil
        if !context.channel.isWritable {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            stall = context.eventLoop.scheduleTask(in: .nanoseconds(limits.sendTimeout.nanoseconds)) {
                loopBound.value.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            answering += 1
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            answering -= 1
            if answering <= 0 { arm(context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let nanoseconds = limits.requestTimeout.nanoseconds
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            loopBound.value.close(promise: nil)
        }
    }
}

/// The process's own limits.
public enum ProcessLimits {
    /// Raises the soft limit of open descriptors towards the hard limit, to at most 65,536 (Debian's default soft
    /// limit is 1,024; a child started by a program that closes every descriptor up to the limit pays for a larger
    /// one), and returns the limit now in force.
    public static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        let wanted = min(limit.rlim_max, 65_536)
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}
