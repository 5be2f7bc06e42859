import Foundation
import Synchronization

/// The attempts of one connect, each on a thread of its own, and who won. The loop thread starts the attempts and
/// waits here; each attempt thread reports here once.
final class ConnectRace: @unchecked Sendable {
    // Why @unchecked Sendable is sound: every stored property but the immutable `count` and `deadline` is read and
    // written only while `condition` is locked. A winning handle is written by its attempt thread, which never
    // touches it again, and taken by the loop thread, which owns it from then on.

    /// How long an attempt has to succeed before the next URI is tried too (RFC 8305's connection attempt delay).
    static let stagger = Duration.milliseconds(250)

    let count: Int
    /// When every attempt still under way is shut down.
    let deadline: ContinuousClock.Instant

    private let condition = NSCondition()
    private var watches: [SocketWatch] = []
    private var results: [Int: Result<LDAPHandle, LDAPError>] = [:]
    private var winner: Int?
    private var over = false
    private var aborted = false

    init(count: Int, deadline: ContinuousClock.Instant) {
        self.count = count
        self.deadline = deadline
    }

    enum Outcome {
        case pending
        case won(LDAPHandle, index: Int)
        case failed([LDAPError])
    }

    /// Whether the next attempt starts now: its time has come, or every attempt started so far has failed.
    func shouldStartNext(started: Int, at time: ContinuousClock.Instant) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !over, ContinuousClock.now < deadline else { return false }
        return started == 0 || ContinuousClock.now >= time || results.count == started
    }

    /// Records an attempt's socket watch, so that the deadline, a winner or an abort can shut it down; false when
    /// the race is already over.
    func register(_ watch: SocketWatch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !over else { return false }
        watches.append(watch)
        return true
    }

    /// An attempt's result. A handle that did not win is dropped here, on its own thread (dropping unbinds).
    func finish(_ index: Int, _ result: Result<LDAPHandle, LDAPError>) {
        condition.lock()
        var loser: LDAPHandle?
        if over, winner != nil {
            // Shut down (or finished too late) because another won: abandoned, whatever libldap made of it.
            if case .success(let handle) = result { loser = handle }
            results[index] = .failure(LDAPError(code: .userCancelled, operation: .connect))
        } else {
            results[index] = result
        }
        condition.broadcast()
        condition.unlock()
        _ = loser
    }

    /// Waits for a result, until `next` (when the next attempt is due) or the deadline; decides the race when it
    /// can. At the deadline every attempt is shut down and waited for, so no thread outlives the connect.
    func wait(until next: ContinuousClock.Instant?, started: Int) -> Outcome {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let outcome = decide(started: started) { return outcome }
            // Every attempt so far failed (refused): the next starts now, not at its stagger.
            if started < count && results.count == started { return .pending }
            let now = ContinuousClock.now
            if now >= deadline || aborted {
                endLocked()
                while results.count < started { condition.wait() }
                if let outcome = decide(started: started, final: true) { return outcome }
                return .failed(failures())
            }
            if let next, now >= next { return .pending }
            let until = min(next ?? deadline, deadline)
            let (seconds, attoseconds) = (until - now).components
            let interval = Double(seconds) + Double(attoseconds) / 1e18
            _ = condition.wait(until: Date(timeIntervalSinceNow: max(0.001, interval)))
        }
    }

    /// Ends the race from any thread (a caller's cancellation).
    func abort() {
        condition.lock()
        aborted = true
        condition.broadcast()
        condition.unlock()
    }

    /// What happened to each URI, for the connection's trace.
    func report(uris: [LDAPURI], winner: Int?, started: Int) -> [LDAPConnectAttempt] {
        condition.lock()
        defer { condition.unlock() }
        return uris.indices.map { index in
            let outcome: LDAPConnectAttempt.Outcome
            switch results[index] {
            case _ where index == winner: outcome = .answered
            case .failure(let error) where error.code == .userCancelled && winner != nil: outcome = .abandoned
            case .failure(let error): outcome = .failed(error)
            case .success, nil: outcome = index < started ? .abandoned : .notTried
            }
            return LDAPConnectAttempt(uri: uris[index], outcome: outcome)
        }
    }

    // MARK: Locked

    private func decide(started: Int, final: Bool = false) -> Outcome? {
        if let winner, case .success(let handle) = results[winner] { return .won(handle, index: winner) }
        if let index = results.keys.sorted().first(where: { if case .success = results[$0]! { true } else { false } }),
            case .success(let handle) = results[index]
        {
            winner = index
            endLocked()
            return .won(handle, index: index)
        }
        // A refused bind or another answer that is not about reaching the server ends the race at once.
        if let fatal = failures().first(where: { !$0.code.isTransportFailure && $0.code != .userCancelled }) {
            endLocked()
            return .failed([fatal])
        }
        if results.count == count || (final && results.count == started) { return .failed(failures()) }
        return nil
    }

    private func failures() -> [LDAPError] {
        results.keys.sorted().compactMap { if case .failure(let error) = results[$0]! { error } else { nil } }
    }

    /// Over: no attempt starts or registers any more, and those under way are shut down (the winner's watch is
    /// not fired: it is removed first by the caller's taking of the handle).
    private func endLocked() {
        guard !over else { return }
        over = true
        for (index, result) in results where index == winner {
            if case .success(let handle) = result { watches.removeAll { $0 === handle.watch } }
        }
        for watch in watches { watch.fire() }
    }
}
