import HTTPTypes
import Metrics

/// The process's metrics as Prometheus text, for the `/metrics` route: whoever bootstrapped the metrics system
/// (the command line, once per process) knows how to render them; the services only serve the text.
public struct MetricsExposition: Sendable {
    let render: @Sendable () -> String

    public init(_ render: @escaping @Sendable () -> String) { self.render = render }
}

/// What the management point and distribution point services count (docs/operations.md, "Metrics"), through
/// swift-metrics: nothing is recorded until the process bootstraps a metrics system.
enum ServiceMetrics {
    /// A content location request and how it ended: `answered`, `bad-request`, `unknown-package`, `too-large`.
    static func location(host: String, status: HTTPResponse.Status) {
        let outcome =
            switch status.code {
            case 200: "answered"
            case 404: "unknown-package"
            case 413: "too-large"
            default: "bad-request"
            }
        Counter(label: "siteloc_location_requests_total", dimensions: [("host", host), ("outcome", outcome)])
            .increment()
    }

    /// A content request: `whole`, `range`, `unsatisfiable` or `not-found`.
    static func contentRequest(host: String, answer: String) {
        Counter(label: "siteloc_dp_requests_total", dimensions: [("host", host), ("answer", answer)]).increment()
    }

    /// Counts content bytes a distribution point has written to its clients (the counter is looked up once per
    /// download, not once per chunk).
    static func servedBytes(host: String) -> @Sendable (Int) -> Void {
        let counter = Counter(label: "siteloc_dp_served_bytes_total", dimensions: [("host", host)])
        return { counter.increment(by: $0) }
    }
}
