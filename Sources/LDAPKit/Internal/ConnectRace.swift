import Dispatch
// Glibc before Dispatch: the first to load sys/time.h owns `timeval` for the whole module, and LDAPHandle.swift
// (which imports Glibc) must see it from Glibc.
import Glibc
import Synchronization

/// The attempts of one connect, each on a thread of its own, and who won. The loop thread starts the attempts and
/// waits here; each attempt thread reports here once.
final class ConnectRace: @unchecked Sendable {
    // Why @unchecked Sendable is sound: all mutable state is in `state`, a Mutex; `count`, `deadline` and `signal`
    // are immutable (a semaphore is safe from any thread).

    /// How long an attempt has to succeed before the next URI is tried too (RFC 8305's connection attempt delay).
    static let stagger = Duration.milliseconds(250)

    let count: Int
    /// When every attempt still under way is shut down.
    let deadline: ContinuousClock.Instant

    private struct State {
        var watches: [SocketWatch] = []
        var results: [Int: Result<Transferred, LDAPError>] = [:]
        var winner: Int?
        var over = false
        var aborted = false
    }

    private let state = Mutex(State())
    /// Signalled once for every result and for an abort: the loop thread waits on it.
    private let signal = DispatchSemaphore(value: 0)

    init(count: Int, deadline: ContinuousClock.Instant) {
        self.count = count
        self.deadline = deadline
    }

    /// A handle handed from the attempt thread that made it to the loop thread that uses it.
    struct Transferred: @unchecked Sendable {
        // Why @unchecked Sendable is sound: the attempt thread puts the handle here and never touches it again;
        // from then on only the loop thread (the winner) or nobody (a loser, dropped) uses it.
        let handle: LDAPHandle
    }

    enum Outcome: Sendable {
        case pending
        case won(Transferred, index: Int)
        case failed([LDAPError])
    }

    /// Whether the next attempt starts now: its time has come, or every attempt started so far has failed.
    func shouldStartNext(started: Int, at time: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            guard !state.over, ContinuousClock.now < deadline else { return false }
            return started == 0 || ContinuousClock.now >= time || state.results.count == started
        }
    }

    /// Records an attempt's socket watch, so that the deadline, a winner or an abort can shut it down; false when
    /// the race is already over.
    func register(_ watch: SocketWatch) -> Bool {
        state.withLock { state in
            guard !state.over else { return false }
            state.watches.append(watch)
            return true
        }
    }

    /// An attempt's result. A handle that did not win is dropped with the race.
    func finish(_ index: Int, _ result: Result<LDAPHandle, LDAPError>) {
        let transferred = result.map(Transferred.init)
        state.withLock { state in
            if state.over, state.winner != nil {
                // Shut down (or finished too late) because another won: abandoned, whatever libldap made of it.
                state.results[index] = .failure(LDAPError(code: .userCancelled, operation: .connect))
            } else {
                state.results[index] = transferred
            }
        }
        signal.signal()
    }

    /// Waits for a result, until `next` (when the next attempt is due) or the deadline; decides the race when it
    /// can. At the deadline every attempt is shut down and waited for, so no thread outlives the connect.
    func wait(until next: ContinuousClock.Instant?, started: Int) -> Outcome {
        while true {
            let (decided, aborted) = state.withLock { state in
                (Self.decide(&state, count: count, started: started), state.aborted)
            }
            if let decided { return decided }
            // Every attempt so far failed (refused): the next starts now, not at its stagger.
            if started < count && state.withLock({ $0.results.count }) == started { return .pending }
            let now = ContinuousClock.now
            if now >= deadline || aborted {
                state.withLock { Self.end(&$0) }
                while state.withLock({ $0.results.count }) < started { signal.wait() }
                return state.withLock { state in
                    Self.decide(&state, count: count, started: started, final: true) ?? .failed(Self.failures(state))
                }
            }
            if let next, now >= next { return .pending }
            let until = min(next ?? deadline, deadline)
            let (seconds, attoseconds) = (until - now).components
            let nanoseconds = max(1_000_000, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
            _ = signal.wait(timeout: .now() + .nanoseconds(nanoseconds))
        }
    }

    /// Ends the race from any thread (a caller's cancellation).
    func abort() {
        state.withLock { $0.aborted = true }
        signal.signal()
    }

    /// What happened to each URI, for the connection's trace.
    func report(uris: [LDAPURI], winner: Int?, started: Int) -> [LDAPConnectAttempt] {
        state.withLock { state in
            uris.indices.map { index in
                let outcome: LDAPConnectAttempt.Outcome
                switch state.results[index] {
                case _ where index == winner: outcome = .answered
                case .failure(let error) where error.code == .userCancelled && winner != nil: outcome = .abandoned
                case .failure(let error): outcome = .failed(error)
                case .success, nil: outcome = index < started ? .abandoned : .notTried
                }
                return LDAPConnectAttempt(uri: uris[index], outcome: outcome)
            }
        }
    }

    // MARK: Under the lock

    private static func decide(_ state: inout State, count: Int, started: Int, final: Bool = false) -> Outcome? {
        if let winner = state.winner, case .success(let transferred) = state.results[winner] {
            return .won(transferred, index: winner)
        }
        let succeeded = state.results.keys.sorted().first { index in
            if case .success = state.results[index]! { true } else { false }
        }
        if let index = succeeded, case .success(let transferred) = state.results[index] {
            state.winner = index
            end(&state)
            return .won(transferred, index: index)
        }
        // A refused bind or another answer that is not about reaching the server ends the race at once.
        if let fatal = failures(state).first(where: { !$0.code.isTransportFailure && $0.code != .userCancelled }) {
            end(&state)
            return .failed([fatal])
        }
        if state.results.count == count || (final && state.results.count == started) {
            return .failed(failures(state))
        }
        return nil
    }

    private static func failures(_ state: State) -> [LDAPError] {
        state.results.keys.sorted().compactMap {
            if case .failure(let error) = state.results[$0]! { error } else { nil }
        }
    }

    /// Over: no attempt starts or registers any more, and those under way are shut down, except the winner's.
    private static func end(_ state: inout State) {
        guard !state.over else { return }
        state.over = true
        var keep: SocketWatch?
        if let winner = state.winner, case .success(let transferred) = state.results[winner] {
            keep = transferred.handle.watch
        }
        for watch in state.watches where watch !== keep { watch.fire() }
    }
}
