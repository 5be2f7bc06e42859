@_spi(CustomByteBufferAllocator) import NIOCore
import NIOPosix
import SiteModel
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The buffers a distribution point sends content in, and how many of them one download may have in flight.
///
/// Why this exists (measured with `siteloc-bench content`, 100 concurrent downloads of 200 MB on loopback): the
/// response writer hands each buffer to the connection's event loop and returns before the loop has written it, so
/// the connection only turns "not writable" once the loop catches up. Reads from the page cache outran a busy loop
/// and ten thousand 256 KiB buffers (2.6 GB) waited in event-loop queues. Each download now has a window of
/// ``window`` chunks: a chunk is counted until NIO releases it (after writing it to the socket, or dropping it with
/// the connection), which is what the allocator's deallocate reports. Released chunks go to a bounded free list
/// instead of to malloc, so the steady state allocates nothing.
enum ContentChunks {
    /// How much is read from disk and written to the connection at a time.
    static let bytes = 256 * 1024
    /// Chunks one download may have read and not yet released: 1 MiB per connection.
    static let window = 4
    /// Free chunks kept for reuse (64 MiB); more are given back to malloc.
    static let kept = 256

    static let allocator = ByteBufferAllocator(
        allocate: { size in ContentChunks.allocate(size) },
        reallocate: { pointer, _, size in ContentChunks.reallocate(pointer, size) },
        deallocate: { pointer in ContentChunks.deallocate(pointer) },
        copy: { destination, source, count in _ = memcpy(destination, source, count) }
    )

    /// Every allocation starts with a 16-byte header (keeping malloc's alignment): its size, and the download it
    /// counts against (0: none), because NIO's deallocate names only the pointer.
    private static let header = 16

    struct Lane {
        var inFlight = 0
        /// A read waiting for a place, and which wait it is (a timer or a cancellation names the wait it ends).
        var waiter: (wait: Int, continuation: CheckedContinuation<Void, any Error>)?
        var nextWait = 1
        var cancelled = false
    }

    struct State {
        /// Addresses of free chunks (as integers: pointers are not Sendable).
        var free: [UInt] = []
        var lanes: [Int: Lane] = [:]
        var nextLane = 1
        /// Downloads being served in the whole process.
        var downloads = 0
    }

    static let state = Mutex(State())

    private static func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        let recycled =
            size == bytes
            ? state.withLock { $0.free.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) } : nil
        guard let block = recycled ?? malloc(header + size) else {
            fatalError("out of memory for a content buffer of \(size) bytes")
        }
        block.storeBytes(of: size, as: Int.self)
        block.storeBytes(of: 0, toByteOffset: 8, as: Int.self)
        return block + header
    }

    private static func reallocate(_ pointer: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
        guard let pointer else { return allocate(size) }
        let old = (pointer - header).load(as: Int.self)
        guard let moved = allocate(size) else { return nil }
        _ = memcpy(moved, pointer, min(old, size))
        (moved - header).storeBytes(
            of: (pointer - header).load(fromByteOffset: 8, as: Int.self),
            toByteOffset: 8,
            as: Int.self
        )
        (pointer - header).storeBytes(of: 0, toByteOffset: 8, as: Int.self)
        deallocate(pointer)
        return moved
    }

    private static func deallocate(_ pointer: UnsafeMutableRawPointer) {
        let block = pointer - header
        let size = block.load(as: Int.self)
        let lane = block.load(fromByteOffset: 8, as: Int.self)
        let address = UInt(bitPattern: block)
        let (recycled, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, any Error>?) in
            var waiter: CheckedContinuation<Void, any Error>?
            if lane != 0, var counted = state.lanes[lane] {
                // A waiting read takes the released place; otherwise the place is free.
                if let waiting = counted.waiter {
                    waiter = waiting.continuation
                    counted.waiter = nil
                } else {
                    counted.inFlight -= 1
                }
                state.lanes[lane] = counted
            }
            guard size == bytes, state.free.count < kept else { return (false, waiter) }
            state.free.append(address)
            return (true, waiter)
        }
        if !recycled { Glibc.free(block) }
        waiter?.resume(returning: ())
    }

    /// Marks a freshly allocated chunk as counting against `lane`.
    fileprivate static func count(_ buffer: inout ByteBuffer, against lane: Int) {
        buffer.withVeryUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            (base - header).storeBytes(of: lane, toByteOffset: 8, as: Int.self)
        }
    }
}

/// One download's window of chunks: `read` waits while ``ContentChunks/window`` chunks it read are still unreleased,
/// and gives up with ``ContentSendTimeout`` when none is released within the send timeout (the client stopped reading)
/// or when its task is cancelled (the server shuts down).
final class ContentLane: Sendable {
    let id: Int
    let sendTimeout: Duration

    init(sendTimeout: Duration) {
        self.sendTimeout = sendTimeout
        id = ContentChunks.state.withLock { state in
            let id = state.nextLane
            state.nextLane += 1
            state.lanes[id] = ContentChunks.Lane()
            return id
        }
    }

    /// Chunks still in flight when the download ends count against nothing: their lane is gone.
    deinit { _ = ContentChunks.state.withLock { $0.lanes.removeValue(forKey: id) } }

    /// `count` bytes of `file` at `offset`, read on NIO's blocking pool (a few threads for all downloads: a thread per
    /// waiting read made a hundred downloads a hundred threads).
    func read(_ file: ContentFile, at offset: Int64, count: Int) async throws -> ByteBuffer {
        try await place()
        do {
            let lane = id
            return try await NIOThreadPool.singleton.runIfActive {
                var buffer = try file.read(at: offset, count: count)
                ContentChunks.count(&buffer, against: lane)
                return buffer
            }
        } catch {
            ContentChunks.state.withLock { $0.lanes[id]?.inFlight -= 1 }
            throw error
        }
    }

    /// Takes a place in the window, waiting at most the send timeout for a chunk to be released.
    private func place() async throws {
        let id = id
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let wait = ContentChunks.state.withLock { state -> Int? in
                    guard var lane = state.lanes[id], !lane.cancelled else { return -1 }
                    guard lane.inFlight >= ContentChunks.window else {
                        state.lanes[id]?.inFlight += 1
                        return nil
                    }
                    let wait = lane.nextWait
                    lane.nextWait += 1
                    lane.waiter = (wait, continuation)
                    state.lanes[id] = lane
                    return wait
                }
                switch wait {
                case nil: continuation.resume()
                case -1: continuation.resume(throwing: CancellationError())
                case let wait?:
                    let timeout = sendTimeout
                    NIOSingletons.posixEventLoopGroup.any().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
                        Self.end(lane: id, wait: wait, ContentSendTimeout(timeout: timeout))
                    }
                }
            }
        } onCancel: {
            let waiter = ContentChunks.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                state.lanes[id]?.cancelled = true
                defer { state.lanes[id]?.waiter = nil }
                return state.lanes[id]?.waiter?.continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Ends wait `wait` of lane `lane` with `error`, if that wait is still the one waiting.
    private static func end(lane: Int, wait: Int, _ error: any Error) {
        let waiter = ContentChunks.state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard let waiting = state.lanes[lane]?.waiter, waiting.wait == wait else { return nil }
            state.lanes[lane]?.waiter = nil
            return waiting.continuation
        }
        waiter?.resume(throwing: error)
    }
}

/// A download's client read nothing for the send timeout: the download is dropped, and its connection with it.
struct ContentSendTimeout: KindedError {
    var kind: FailureKind { .serviceUnavailable }
    var timeout: Duration
    var description: String { "the client read nothing for \(timeout); the download is dropped" }
}

/// One of the process's ``ServiceLimits/concurrentDownloads`` places, held while a download's response exists
/// (released when it is dropped, whether or not its body was ever written).
final class DownloadSlot: Sendable {
    private init() {}

    /// A place, or nil when `limit` downloads are already being served.
    static func take(limit: Int) -> DownloadSlot? {
        let taken = ContentChunks.state.withLock { state -> Bool in
            guard state.downloads < limit else { return false }
            state.downloads += 1
            return true
        }
        return taken ? DownloadSlot() : nil
    }

    deinit { ContentChunks.state.withLock { $0.downloads -= 1 } }
}

extension Duration {
    /// The whole nanoseconds of a duration (for NIO's TimeAmount).
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
