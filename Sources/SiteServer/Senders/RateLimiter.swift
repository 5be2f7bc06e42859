public import Foundation
public import SiteModel

/// How an address's rate limit paces a delivery (docs/site-communication.md, "Rate limits"): `pulse` sends one block of
/// `blockKB`, then pauses `delaySeconds`; `hourly` lets the link be used for a share of each hour range, so at 25%
/// each block is followed by a pause three times as long as the block took.
public struct RateLimiter: Sendable {
    public let limit: RateLimit
    public let calendar: Calendar

    public init(_ limit: RateLimit, calendar: Calendar = .current) {
        self.limit = limit
        self.calendar = calendar
    }

    /// The bytes sent between pauses. Without a pulse, 8 MiB: libsmbclient waits for each write's answer, so
    /// larger writes keep the link busy (1 MiB writes ran at about a quarter of `smbclient put` on loopback).
    public var blockSize: Int {
        if case .pulse(let blockKB, _) = limit { return max(1, blockKB) * 1024 }
        return 8 << 20
    }

    /// The pause after a block that took `elapsed`, sent at `time`.
    public func pause(afterBlockTaking elapsed: Duration, at time: Date) -> Duration {
        switch limit {
        case .unlimited:
            return .zero
        case .pulse(_, let delaySeconds):
            return .seconds(delaySeconds)
        case .hourly(let ranges):
            let hour = calendar.component(.hour, from: time)
            let percent =
                ranges.first { range in
                    range.startHour < range.endHour
                        ? (range.startHour..<range.endHour).contains(hour)
                        : hour >= range.startHour || hour < range.endHour
                }?.percent ?? 100
            guard percent < 100 else { return .zero }
            guard percent > 0 else { return .seconds(60) }
            return elapsed * Double(100 - percent) / Double(percent)
        }
    }
}
