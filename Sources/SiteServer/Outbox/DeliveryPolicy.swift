import Foundation
import SiteModel
import SiteRouting

/// The address a delivery uses (docs/site-communication.md, steps 1–4), given the addresses that already failed.
enum AddressChoice {
    case use(Address)
    case waitUntil(Date)
    case failed(RouteFailure)
    /// Every open address failed (or may not substitute).
    case exhausted

    static func choose(
        planner: RoutePlanner,
        from sending: SiteCode,
        to next: SiteCode,
        priority: JobPriority,
        at time: Date,
        failed: Set<Int>
    ) -> AddressChoice {
        switch planner.hop(from: sending, to: next, priority: priority, at: time) {
        case .failure(let failure):
            return .failed(failure)
        case .success(let hop):
            if let until = hop.waitUntil { return .waitUntil(until) }
        }
        let hour = planner.hourOfWeek(time)
        let open = (planner.hierarchy.site(sending)?.addresses ?? [])
            .filter { $0.to == next && RoutePlanner.admits($0, priority, hourOfWeek: hour) }
            .sorted { $0.priority < $1.priority }
        if failed.isEmpty, let first = open.first { return .use(first) }
        // After a failure the next open address substitutes, unless it is marked unavailable to substitute.
        if let substitute = open.first(where: { !failed.contains($0.priority) && !$0.unavailableToSubstitute }) {
            return .use(substitute)
        }
        return .exhausted
    }
}

/// What a site server does after each attempt to deliver a job (docs/site-communication.md, "Retries and
/// substitution"), as changes to the job's outbox state. Pure: the time is given, nothing is sent or written, so
/// every rule is tested without a clock, a network or a folder.
struct DeliveryPolicy: Sendable {
    /// How often one address is tried again before the next one substitutes.
    let retries: Int
    /// How long to wait before another try.
    let retryDelay: TimeInterval

    /// After an attempt on `address` failed: another try on the same address after the delay while it has
    /// retries left; then, or at once when the address's sender is not installed here, the address counts as
    /// failed and the next one substitutes (at the next pass).
    func afterFailure(_ state: inout OutboxState, on address: Address, _ error: any Error, at now: Date) {
        state.lastError = "\(error)"
        if (error as? DeliveryFailure)?.reason == .senderNotInstalled {
            state.failedAddresses.append(address.priority)
            state.attempts = 0
            state.nextAttempt = nil
            state.status = "sender-not-installed for \(address.sender.rawValue); trying the next address"
        } else if state.attempts < retries {
            state.attempts += 1
            state.nextAttempt = now.addingTimeInterval(retryDelay)
            state.status = "delivery failed; retry \(state.attempts) of \(retries)"
        } else {
            state.failedAddresses.append(address.priority)
            state.attempts = 0
            state.nextAttempt = nil
            state.status = "address priority \(address.priority) failed after its retries; substituting"
        }
    }

    /// After every open address failed: all of them again, from the first, once the delay has passed.
    func afterEveryAddressFailed(_ state: inout OutboxState, to next: SiteCode, at now: Date) {
        state.failedAddresses = []
        state.attempts = 0
        state.status = "every address to \(next) failed; starting over"
        state.nextAttempt = now.addingTimeInterval(retryDelay)
    }

    /// When no attempt could be made (no route now, a link refused): the same job looks again after the delay.
    func afterNoAttempt(_ state: inout OutboxState, because status: String, at now: Date) {
        state.status = status
        state.nextAttempt = now.addingTimeInterval(retryDelay)
    }
}
