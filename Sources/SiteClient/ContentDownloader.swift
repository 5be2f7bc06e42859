import AsyncHTTPClient
import BlockingWork
import Foundation
import Metrics
import NIOCore
import NIOHTTP1
import SiteLocation
import SiteModel
import Synchronization
import SystemCrypto

#if canImport(Glibc)
import Glibc
#endif

/// Downloads a package version BITS-style (docs/content-services.md, "The client"): into the state folder beside a
/// record of how far it got, from the first distribution point of the answer, the next one continuing from the
/// same byte when one fails, and a later run — after a roam, from other distribution points — continuing where this
/// one stopped, with `Range` and `If-Range` on the version. The content's SHA-256 is checked before it enters the
/// cache.
struct ContentDownloader: Sendable {
    enum Outcome {
        case complete(URL)
        case paused
        case corrupt
    }

    let http: HTTPClient
    let state: ClientState
    /// Bytes per second at most (nil: as fast as it goes).
    let maxRate: Int?
    let progress: (@Sendable (_ done: Int64, _ size: Int64) -> Void)?
    /// Bounds a distribution point's response headers, and is the window over which its body must keep up at
    /// least ``minimumRate`` (a DP that trickles is left for the next one).
    let timeout: Duration

    /// How often the record is written after the bytes it counts, whichever comes first: what a kill can cost
    /// (received bytes wait at most ``checkpointInterval`` before they are written, and the record at most as long
    /// again after them: under a second in all).
    static let checkpointBytes: Int64 = 4 << 20
    static let checkpointInterval: Duration = .milliseconds(450)
    /// Bytes per second a distribution point must keep up, over each window of the timeout (1 KiB/s; half the
    /// `--max-rate` when that is lower).
    static let minimumRate = 1024
    /// How often the bytes are also flushed to disk before the record: what a power cut can cost (a record that
    /// got ahead of its bytes then fails the SHA-256 check, and the download starts over).
    static let durableBytes: Int64 = 64 << 20
    /// Bytes gathered before a blocking thread writes and hashes them.
    static let batchBytes = 1 << 20

    func download(
        package: String,
        version: String,
        from offers: [DistributionPointOffer],
        trace: inout [String]
    ) async throws(ClientError) -> (Outcome, DownloadReport) {
        guard let hex = ClientState.hex(of: version) else {
            throw ClientError.badInput("the management point named version '\(version.prefix(80))', not sha256:<hex>")
        }
        var record: DownloadRecord
        var restarted = false
        do {
            try state.createFolders()
        } catch {
            throw ClientError.state("cannot use the state folder \(state.folder.path): \(error)")
        }
        if let earlier = state.readRecord(package), earlier.version == version {
            record = earlier
        } else {
            if let earlier = state.readRecord(package) {
                trace.append(
                    "the partial download of \(earlier.version.prefix(19))… (\(earlier.done) of \(earlier.size) bytes)"
                        + " is discarded: the management point now offers \(version.prefix(19))…"
                )
                restarted = true
            }
            state.forget(package)
            record = DownloadRecord(package: package, version: version, size: -1, done: 0, sources: [])
        }
        let file: PartialFile
        do {
            file = try await withBlockingWork { try PartialFile(state.partial(package), keeping: record.done) }
        } catch {
            throw ClientError.state("cannot write \(state.partial(package).path): \(error)")
        }
        // A kill between a flush and the record's write leaves more bytes than the record says, never fewer.
        record.done = min(record.done, file.length)
        // The SHA-256 runs as the bytes arrive; what an earlier run kept is read once, here.
        let digest = RunningDigest()
        let kept = record.done
        try? await withBlockingWork { try digest.catchUp(file, to: kept) }
        let resumedFrom = record.done
        if resumedFrom > 0 {
            trace.append("resuming \(package) at byte \(resumedFrom) of \(record.size)")
            Counter(label: "siteloc_client_resumes_total").increment()
        }
        var sources: [DownloadSource] = []
        let etag = "\"\(version)\""
        var retried = Set<String>()
        var queue = offers[...]
        while let offer = queue.first, record.size < 0 || record.done < record.size {
            queue = queue.dropFirst()
            guard let url = offer.url else {
                sources.append(DownloadSource(host: offer.host, from: record.done, to: record.done, result: "no-url"))
                continue
            }
            if let offered = offer.version, offered != version {
                sources.append(
                    DownloadSource(host: offer.host, from: record.done, to: record.done, result: "other-version")
                )
                continue
            }
            let from = record.done
            let result = await fetch(
                url,
                etag: etag,
                into: file,
                digest: digest,
                record: &record,
                trace: &trace,
                host: offer.host
            )
            sources.append(DownloadSource(host: offer.host, from: from, to: record.done, result: result))
            if result == Self.restart, retried.insert(offer.host).inserted {
                restarted = true
                queue.insert(offer, at: queue.startIndex)
            }
            Counter(label: "siteloc_client_downloaded_bytes_total", dimensions: [("host", offer.host)])
                .increment(by: record.done - from)
            let reached = record
            try? await withBlockingWork {
                try file.flush()
                try state.write(reached, durable: true)
            }
        }
        let report = DownloadReport(
            size: max(record.size, 0),
            transferred: sources.reduce(0) { $0 + ($1.to - $1.from) },
            resumedFrom: resumedFrom,
            restarted: restarted,
            sources: sources
        )
        guard record.size >= 0, record.done == record.size else {
            trace.append(
                "paused at byte \(record.done)\(record.size >= 0 ? " of \(record.size)" : ""): no distribution point"
                    + " could continue; the next run resumes"
            )
            return (.paused, report)
        }
        let finalSize = record.size
        let sum = try? await withBlockingWork { try digest.finish(file, size: finalSize) }
        guard sum == hex else {
            trace.append("the content's SHA-256 is not the version's: it is discarded (corrupt)")
            state.forget(package)
            return (.corrupt, report)
        }
        guard let target = state.cached(package, version: version) else { return (.corrupt, report) }
        do {
            try FileManager.default.createDirectory(
                at: target.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            guard rename(state.partial(package).path, target.path) == 0 else {
                throw ClientError.state("cannot move the download into \(target.path)")
            }
        } catch {
            throw ClientError.state("cannot move the download into the cache: \(error)")
        }
        unlink(state.record(package).path)
        trace.append("complete: \(record.size) bytes, SHA-256 checked, in \(target.path)")
        return (.complete(target), report)
    }

    /// One distribution point's part: from `record.done` on, as far as it goes. Returns `ok` or why it stopped.
    private func fetch(
        _ url: String,
        etag: String,
        into file: PartialFile,
        digest: RunningDigest,
        record: inout DownloadRecord,
        trace: inout [String],
        host: String
    ) async -> String {
        var request = HTTPClientRequest(url: url)
        if record.done > 0 {
            request.headers.add(name: "Range", value: "bytes=\(record.done)-")
            request.headers.add(name: "If-Range", value: etag)
        }
        let response: HTTPClientResponse
        do {
            // The headers within the timeout; the body may take as long as it keeps up the minimum rate.
            let (http, asked) = (http, request)
            response = try await withTimeLimit(timeout, doing: "\(host)'s response headers") {
                try await http.execute(asked, timeout: .hours(24))
            }
        } catch {
            trace.append("\(host): \(Self.reason(error))")
            return Self.reason(error)
        }
        guard response.headers.first(name: "ETag") == etag else {
            let other = response.headers.first(name: "ETag").map { UntrustedText.escape(String($0.prefix(80))) }
            trace.append("\(host) holds another version (\(other ?? "no ETag"))")
            return "other-version"
        }
        let announced: Int64
        switch response.status {
        case .partialContent:
            guard let range = ContentRange(response.headers.first(name: "Content-Range") ?? ""),
                range.first == record.done
            else {
                trace.append("\(host) answered another range than asked")
                return "bad-range"
            }
            announced = range.size
        case .ok:
            guard let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length >= 0 else {
                trace.append("\(host) gave no usable size")
                return "bad-size"
            }
            announced = length
        case .rangeNotSatisfiable:
            return "http 416"
        default:
            trace.append("\(host) answered \(response.status.code)")
            return "http \(response.status.code)"
        }
        // No size is taken on a distribution point's word alone: it must fit where the bytes go, and one that
        // contradicts the size an earlier DP gave for the same version starts the download over (the SHA-256 at
        // the end decides which was right).
        if let room = state.freeBytes(), announced - record.done > room {
            trace.append(
                "\(host) announces \(announced) bytes, more than the \(room) free where the download is kept"
            )
            return "bad-size"
        }
        if record.size >= 0, announced != record.size {
            trace.append(
                "\(host) announces \(announced) bytes where \(record.size) were announced before: the download starts"
                    + " over from byte 0"
            )
            do { try await withBlockingWork { try file.truncate(to: 0) } } catch { return "state" }
            digest.reset()
            record.done = 0
            record.size = announced
            return Self.restart
        }
        switch response.status {
        case .partialContent:
            record.size = announced
        default:
            let length = announced
            if record.done > 0 {
                trace.append("\(host) sent the whole content instead of a range: starting over from byte 0")
                do { try await withBlockingWork { try file.truncate(to: 0) } } catch { return "state" }
                digest.reset()
                record.done = 0
            }
            record.size = length
        }
        // Received bytes are gathered into batches that a blocking thread writes and hashes while the next batch
        // arrives: one hand-off per MiB instead of one per network read, and the SHA-256 off the receiving path.
        let started = ContinuousClock.now
        var received: Int64 = 0
        var batch = ByteBuffer()
        var sinceCheckpoint: Int64 = 0
        var sinceFlush: Int64 = 0
        var lastCheckpoint = started
        var lastBatch = started
        var window = (start: started, bytes: Int64(0))
        let minimum = Int64(min(Self.minimumRate, maxRate.map { max(1, $0 / 2) } ?? Self.minimumRate))
        var stopped: (any Error)?
        do {
            try await withThrowingTaskGroup(of: Int64.self) { group in
                var writing = false
                // Waits for the batch being written, then counts it as done.
                func committed() async throws {
                    guard writing, let bytes = try await group.next() else { return }
                    writing = false
                    record.done += bytes
                    sinceCheckpoint += bytes
                    sinceFlush += bytes
                    progress?(record.done, record.size)
                    if sinceCheckpoint >= Self.checkpointBytes
                        || ContinuousClock.now - lastCheckpoint >= Self.checkpointInterval
                    {
                        lastCheckpoint = ContinuousClock.now
                        let flush = sinceFlush >= Self.durableBytes
                        let checkpoint = record
                        try await withBlockingWork {
                            if flush { try file.flush() }
                            try state.write(checkpoint, durable: flush)
                        }
                        if flush { sinceFlush = 0 }
                        sinceCheckpoint = 0
                    }
                }
                func write(_ bytes: ByteBuffer) async throws {
                    try await committed()
                    let offset = record.done
                    group.addTask {
                        // Written and hashed on two threads at once.
                        async let hashed: Void = withBlockingWork { digest.update(bytes, at: offset) }
                        try await withBlockingWork { try file.write(bytes, at: offset) }
                        await hashed
                        return Int64(bytes.readableBytes)
                    }
                    writing = true
                }
                do {
                    for try await part in response.body {
                        let room = record.size - record.done - Int64(batch.readableBytes)
                        guard room > 0 else { break }
                        var part = part
                        let count = Int(min(Int64(part.readableBytes), room))
                        if batch.readableBytes == 0, count == part.readableBytes, count >= Self.batchBytes {
                            batch = part
                        } else {
                            if batch.capacity < Self.batchBytes { batch.reserveCapacity(Self.batchBytes) }
                            batch.writeImmutableBuffer(part.readSlice(length: count)!)
                        }
                        received += Int64(count)
                        let now = ContinuousClock.now
                        if batch.readableBytes >= Self.batchBytes || now - lastBatch >= Self.checkpointInterval {
                            try await write(batch)
                            batch = ByteBuffer()
                            lastBatch = now
                        }
                        window.bytes += Int64(count)
                        if now - window.start >= timeout {
                            let seconds =
                                Double((now - window.start).components.seconds) + 1e-18
                                * Double((now - window.start).components.attoseconds)
                            guard Double(window.bytes) >= seconds * Double(minimum) else {
                                throw TooSlow(bytes: window.bytes, seconds: seconds)
                            }
                            window = (now, 0)
                        }
                        if let maxRate, maxRate > 0 {
                            let due = Duration.seconds(Double(received) / Double(maxRate))
                            let elapsed = ContinuousClock.now - started
                            if due > elapsed { try await Task.sleep(for: due - elapsed) }
                        }
                    }
                } catch {
                    // What arrived before the distribution point stopped is kept: the next one continues after it.
                    stopped = error
                }
                if batch.readableBytes > 0 { try await write(batch) }
                try await committed()
            }
        } catch {
            trace.append("\(host): cannot keep the bytes: \(error)")
            return "state"
        }
        if let stopped {
            trace.append("\(host) stopped at byte \(record.done): \(Self.reason(stopped))")
            return Self.reason(stopped)
        }
        guard record.done == record.size else {
            trace.append("\(host) ended the content at byte \(record.done) of \(record.size)")
            return "short"
        }
        return "ok"
    }

    /// A fetch that found the size changed and started the download over: the same DP is asked once more.
    static let restart = "restarted"

    /// A distribution point that kept the connection open but sent less than the minimum rate.
    struct TooSlow: KindedError {
        var kind: FailureKind { .serviceUnavailable }
        var bytes: Int64
        var seconds: Double
        var description: String {
            "too slow: \(bytes) bytes in \(String(format: "%.1f", seconds)) s, below the minimum rate"
        }
    }

    static func reason(_ error: any Error) -> String {
        if error is TooSlow { return "too-slow" }
        let text = UntrustedText.escape("\(error)")
        if text.contains("connect") && text.contains("efused") { return "refused" }
        if text.lowercased().contains("timeout") || text.lowercased().contains("timed out") { return "timeout" }
        if text.lowercased().contains("reset") || text.contains("remoteConnectionClosed") { return "reset" }
        return "failed: \(text.prefix(200))"
    }
}

/// The SHA-256 of a download, computed as its bytes are written in order; a file whose bytes did not all pass
/// through it (written out of order) is hashed again from disk at the end.
final class RunningDigest: Sendable {
    private let state = Mutex<(hash: SHA256, upTo: Int64)>((SHA256(), 0))

    func reset() { state.withLock { $0 = (SHA256(), 0) } }

    func update(_ bytes: ByteBuffer, at offset: Int64) {
        state.withLock { state in
            guard offset == state.upTo else { return }
            bytes.withUnsafeReadableBytes { state.hash.update(bufferPointer: $0) }
            state.upTo += Int64(bytes.readableBytes)
        }
    }

    /// Hashes the first `length` bytes of the file (what an earlier run kept).
    func catchUp(_ file: PartialFile, to length: Int64) throws {
        reset()
        var offset: Int64 = 0
        while offset < length {
            let block = try file.read(at: offset, count: Int(min(1 << 20, length - offset)))
            guard block.readableBytes > 0 else { break }
            update(block, at: offset)
            offset += Int64(block.readableBytes)
        }
    }

    /// The hex digest of `size` bytes: the running one when every byte passed through, else the file's.
    func finish(_ file: PartialFile, size: Int64) throws -> String {
        let (hash, upTo) = state.withLock { $0 }
        guard upTo == size else { return try file.sha256() }
        return hash.finalize().hex
    }
}

/// `Content-Range: bytes FIRST-LAST/SIZE`.
struct ContentRange: Equatable {
    var first: Int64
    var last: Int64
    var size: Int64

    init?(_ text: String) {
        guard text.hasPrefix("bytes ") else { return nil }
        let rest = text.dropFirst("bytes ".count)
        let halves = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, let size = Int64(halves[1]) else { return nil }
        let bounds = halves[0].split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0,
            first <= last, last < size
        else { return nil }
        self.first = first
        self.last = last
        self.size = size
    }
}

/// The partial file of a download, written at offsets.
final class PartialFile: Sendable {
    /// Owned by this object alone and closed in deinit; used only through pwrite, fsync, ftruncate and pread.
    let descriptor: Int32
    let length: Int64

    /// Opens (or creates) the file and cuts it to `keeping` bytes when it is longer.
    init(_ url: URL, keeping: Int64) throws {
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ClientError.state(String(cString: strerror(errno))) }
        guard let size = regularFileSize(descriptor) else {
            close(descriptor)
            throw ClientError.state("not a regular file")
        }
        let length = min(size, keeping)
        guard ftruncate(descriptor, off_t(length)) == 0 else {
            close(descriptor)
            throw ClientError.state(String(cString: strerror(errno)))
        }
        self.descriptor = descriptor
        self.length = length
    }

    deinit { close(descriptor) }

    func write(_ bytes: ByteBuffer, at offset: Int64) throws {
        var written = 0
        try bytes.withUnsafeReadableBytes { raw in
            while written < raw.count {
                let count = pwrite(
                    descriptor,
                    raw.baseAddress! + written,
                    raw.count - written,
                    off_t(offset) + off_t(written)
                )
                guard count > 0 else { throw ClientError.state(String(cString: strerror(errno))) }
                written += count
            }
        }
    }

    func flush() throws {
        guard fsync(descriptor) == 0 else { throw ClientError.state(String(cString: strerror(errno))) }
    }

    func truncate(to length: Int64) throws {
        guard ftruncate(descriptor, off_t(length)) == 0 else {
            throw ClientError.state(String(cString: strerror(errno)))
        }
    }

    func read(at offset: Int64, count: Int) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            let read = pread(descriptor, raw.baseAddress, count, off_t(offset))
            guard read >= 0 else { throw ClientError.state(String(cString: strerror(errno))) }
            return read
        }
        return buffer
    }

    /// The SHA-256 (hex) of the whole file.
    func sha256() throws -> String {
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let count = pread(descriptor, &buffer, buffer.count, offset)
            guard count >= 0 else { throw ClientError.state(String(cString: strerror(errno))) }
            if count == 0 { break }
            hash.update(data: buffer[0..<count])
            offset += off_t(count)
        }
        return hash.finalize().hex
    }
}
