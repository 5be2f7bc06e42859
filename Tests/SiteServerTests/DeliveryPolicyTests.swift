import Foundation
import SiteModel
import Testing

@testable import SiteServer

/// The rules for retries and substitution, without a clock, a network or a folder: the time is given.
@Suite struct DeliveryPolicyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = DeliveryPolicy(retries: 2, retryDelay: 60)

    func address(_ priority: Int, _ sender: SenderType = .standard) throws -> Address {
        Address(to: try SiteCode("P01"), sender: sender, priority: priority)
    }

    @Test func anAddressIsRetriedItsNumberOfTimesThenSubstituted() throws {
        var state = OutboxState()
        let first = try address(1)
        let failure = DeliveryFailure(reason: .transport, description: "connection refused")
        policy.afterFailure(&state, on: first, failure, at: now)
        #expect(state.attempts == 1 && state.nextAttempt == now.addingTimeInterval(60) && state.failedAddresses.isEmpty)
        policy.afterFailure(&state, on: first, failure, at: now)
        #expect(state.attempts == 2 && state.failedAddresses.isEmpty)
        policy.afterFailure(&state, on: first, failure, at: now)
        #expect(state.failedAddresses == [1] && state.attempts == 0 && state.nextAttempt == nil)
        #expect(state.status.contains("substituting") && state.lastError == "connection refused")
    }

    @Test func aSenderNotInstalledIsSubstitutedAtOnce() throws {
        var state = OutboxState()
        let failure = DeliveryFailure(reason: .senderNotInstalled, description: "sender-not-installed")
        policy.afterFailure(&state, on: try address(1, .asyncRas), failure, at: now)
        #expect(state.failedAddresses == [1] && state.nextAttempt == nil && state.attempts == 0)
    }

    @Test func everyAddressFailedStartsOverAfterTheDelay() throws {
        var state = OutboxState()
        state.failedAddresses = [1, 2]
        state.attempts = 1
        policy.afterEveryAddressFailed(&state, to: try SiteCode("P01"), at: now)
        #expect(state.failedAddresses.isEmpty && state.attempts == 0 && state.nextAttempt == now.addingTimeInterval(60))
    }

    @Test func noAttemptLooksAgainAfterTheDelayWithoutCountingOne() {
        var state = OutboxState()
        policy.afterNoAttempt(&state, because: "link refused", at: now)
        #expect(
            state.status == "link refused" && state.attempts == 0 && state.nextAttempt == now.addingTimeInterval(60)
        )
    }

    @Test func withoutRetriesTheFirstFailureSubstitutes() throws {
        var state = OutboxState()
        let refused = DeliveryFailure(reason: .transport, description: "refused")
        DeliveryPolicy(retries: 0, retryDelay: 60).afterFailure(&state, on: try address(3), refused, at: now)
        #expect(state.failedAddresses == [3])
    }
}

@Suite struct WorkStateTests {
    /// Idle is reported once after work, not at every pass with nothing to do, and again only after new work.
    @Test func idleIsReportedOnceAfterEachStretchOfWork() {
        var state = WorkState()
        let start = Date(timeIntervalSince1970: 1_000)
        // A server that starts with nothing to do is idle at once.
        var changed = state.pass(didWork: false, at: start)
        #expect(changed && state.idleSince == start)
        var repeated = 0
        for pass in 1...20 where state.pass(didWork: false, at: start.addingTimeInterval(Double(pass))) {
            repeated += 1
        }
        #expect(repeated == 0 && state.idleSince == start)
        changed = state.pass(didWork: true, at: start.addingTimeInterval(30))
        #expect(changed && state.idleSince == nil)
        changed = state.pass(didWork: true, at: start.addingTimeInterval(31))
        #expect(!changed)
        changed = state.pass(didWork: false, at: start.addingTimeInterval(32))
        #expect(changed && state.idleSince == start.addingTimeInterval(32))
    }
}
