import Metrics
import SiteModel

/// What a site server counts (docs/operations.md, "Metrics"): emitted through swift-metrics, so nothing is
/// recorded until the process bootstraps a metrics system (`siteloc site run` does, with Prometheus).
struct SiteServerMetrics: Sendable {
    let site: String

    /// A job taken from the inbox.
    func received() {
        Counter(label: "siteloc_jobs_received_total", dimensions: [("site", site)]).increment()
    }

    /// One line of the event log: `applied`, `forwarded`, `status`, `duplicate`, `delivered`, … (the same names).
    func event(_ name: String) {
        Counter(label: "siteloc_site_events_total", dimensions: [("site", site), ("event", name)]).increment()
    }

    func rejected(_ code: JobRejection.Code) {
        Counter(label: "siteloc_jobs_rejected_total", dimensions: [("site", site), ("reason", code.rawValue)])
            .increment()
    }

    /// A delivery attempt over a link and its outcome (`delivered` or `failed`); a delivered job's bytes count as
    /// sent on that link and sender.
    func delivery(to next: SiteCode, sender: SenderType, outcome: String, bytes: Int64?) {
        let link = [("site", site), ("to", next.rawValue), ("sender", sender.rawValue)]
        Counter(label: "siteloc_delivery_attempts_total", dimensions: link + [("outcome", outcome)]).increment()
        if let bytes, bytes > 0 {
            Counter(label: "siteloc_sent_bytes_total", dimensions: link).increment(by: bytes)
        }
    }

    /// A failed delivery that will be tried again on the same address.
    func retry(to next: SiteCode, sender: SenderType) {
        Counter(
            label: "siteloc_delivery_retries_total",
            dimensions: [("site", site), ("to", next.rawValue), ("sender", sender.rawValue)]
        ).increment()
    }
}
