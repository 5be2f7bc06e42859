public import SiteModel

/// What the client does with a management point's answer (docs/roaming-and-content.md, step 4).
public enum ContentDecision: String, Sendable, Codable {
    case downloadLocal = "download-local"
    case runFromLocalDP = "run-from-local-dp"
    case wait
    case downloadRemote = "download-remote"
    case runFromRemoteDP = "run-from-remote-dp"
    case unavailable

    /// `local` answers follow `fastBoundary`, `remote` ones `slowBoundary`; an empty answer is `unavailable`.
    /// Without an advertisement the defaults apply (download and run on fast, do not run on slow).
    public static func decide(_ offers: [DistributionPointOffer], advertisement: Advertisement?) -> ContentDecision {
        guard let locality = offers.first?.locality else { return .unavailable }
        let fast = advertisement?.fastBoundary ?? .downloadAndRun
        let slow = advertisement?.slowBoundary ?? .doNotRun
        switch (locality, fast, slow) {
        case (.local, .downloadAndRun, _): return .downloadLocal
        case (.local, .runFromDP, _): return .runFromLocalDP
        case (.remote, _, .doNotRun): return .wait
        case (.remote, _, .downloadAndRun): return .downloadRemote
        case (.remote, _, .runFromDP): return .runFromRemoteDP
        }
    }
}
