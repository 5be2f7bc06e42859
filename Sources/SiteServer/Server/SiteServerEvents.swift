import Foundation
import Synchronization

/// What a site server reports as it works, to whoever runs it in the same process (tests, the demo, a service that
/// wants to react): every line of `events.log` as it is written, and `idle` — never written to the log — when a pass
/// of the server's loop found nothing to take from the inbox, nothing due in the outbox and no delivery running,
/// after one that did. Awaiting these replaces sleeping and polling folders.
public final class SiteServerEvents: Sendable {
    /// The name of the event that says the server has nothing to do until something arrives or a retry falls due.
    public static let idle = "idle"

    private let subscribers = Mutex<[Int: AsyncStream<SiteEvent>.Continuation]>([:])
    private let nextSubscriber = Atomic(0)

    init() {}

    /// Everything reported from now on, until the returned stream is dropped. Subscribe before doing what is to be
    /// watched: nothing is kept for late subscribers.
    public func stream() -> AsyncStream<SiteEvent> {
        let (stream, continuation) = AsyncStream<SiteEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let id = nextSubscriber.wrappingAdd(1, ordering: .relaxed).oldValue
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.removeValue(forKey: id) } }
        return stream
    }

    func publish(_ event: SiteEvent) {
        let current = subscribers.withLock { Array($0.values) }
        for continuation in current { continuation.yield(event) }
    }

    func finish() {
        let current = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        for continuation in current { continuation.finish() }
    }
}

/// Whether a site server has work, pass by pass of its loop: idle is reported once, when a pass with nothing to do
/// follows one that did something (the first pass counts as following work), never again until work comes back.
struct WorkState {
    /// When the server last became idle; nil while it works.
    private(set) var idleSince: Date?
    private var busy = true

    /// Records a pass; returns whether the server went from busy to idle or back.
    mutating func pass(didWork: Bool, at now: Date) -> Bool {
        guard didWork != busy else { return false }
        busy = didWork
        idleSince = didWork ? nil : now
        return true
    }
}

extension AsyncSequence where Element == SiteEvent, Self: Sendable {
    /// Waits for the first event that `matches`, at most `limit`; nil when the limit passed or the stream ended
    /// first.
    public func first(
        within limit: Duration,
        where matches: @escaping @Sendable (SiteEvent) -> Bool
    ) async -> SiteEvent? {
        await withTaskGroup(of: SiteEvent?.self) { group in
            group.addTask {
                do {
                    for try await event in self where matches(event) { return event }
                } catch {}
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let found = await group.next() ?? nil
            group.cancelAll()
            return found
        }
    }
}
