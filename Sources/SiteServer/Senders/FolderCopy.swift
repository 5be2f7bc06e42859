import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writing a job into a folder as senders do: under a hidden temporary name, then renamed, so readers see all of it
/// or nothing.
enum FolderCopy {
    static func copy(
        _ section: JobSection,
        into folder: URL,
        as name: String,
        temporaryName: String,
        limiter: RateLimiter?,
        progress: @escaping @Sendable (Int64) -> Void
    ) async throws {
        let target = folder.appendingPathComponent(name)
        let total = section.size
        let temporary = folder.appendingPathComponent(temporaryName)
        // What a cut-off delivery left under the temporary name goes first; the new file is created exclusively,
        // so a link planted under that name in the next inbox is never written through.
        unlink(temporary.path)
        do {
            let output = try RegularFile.createForWriting(temporary)
            defer { try? output.close() }
            let input = try RegularFile.openForReading(section.file)
            defer { try? input.close() }
            try input.seek(toOffset: section.offset)
            var sent: Int64 = 0
            var pending = section.prefix
            let blockSize = limiter?.blockSize ?? (1 << 20)
            while true {
                let started = ContinuousClock.now
                var block = pending
                pending = Data()
                if block.count < blockSize { block += try input.read(upToCount: blockSize - block.count) ?? Data() }
                guard !block.isEmpty else { break }
                try output.write(contentsOf: block)
                sent += Int64(block.count)
                progress(sent)
                if sent < total { try await pace(limiter, blockTook: ContinuousClock.now - started) }
            }
            try output.synchronize()
        } catch {
            unlink(temporary.path)
            if error is CancellationError { throw error }
            throw DeliveryFailure(reason: .transport, description: "cannot write into \(folder.path): \(error)")
        }
        guard rename(temporary.path, target.path) == 0 else {
            unlink(temporary.path)
            throw DeliveryFailure(reason: .transport, description: "cannot rename into \(folder.path)")
        }
    }

    /// The pause a rate limit asks for after a block.
    static func pace(_ limiter: RateLimiter?, blockTook elapsed: Duration) async throws {
        guard let limiter else { return }
        let pause = limiter.pause(afterBlockTaking: elapsed, at: Date())
        if pause > .zero { try await Task.sleep(for: pause) }
    }
}
