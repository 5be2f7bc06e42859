import HTTPTypes
import Metrics

/// The process's metrics as Prometheus text, for the `/metrics` route: whoever bootstrapped the metrics system
/// (the command line, once per process) knows how to render them; the services only serve the text.
public struct MetricsExposition: Sendable {
    let render: @Sendable () -> String

    public init(_ render: @escaping @Sendable () -> String) { self.render = render }
}

/// What a management point counts (docs/operations.md, "Metrics"), through swift-metrics: nothing is recorded until
/// the process bootstraps a metrics system. The counters are made once per host, when the service is (after the
/// bootstrap), so answering a request costs an increment, not a lookup in the metrics system.
struct LocationMetrics: Sendable {
    private let answered: Counter
    private let unknownPackage: Counter
    private let tooLarge: Counter
    private let badRequest: Counter

    init(host: String) {
        func counter(_ outcome: String) -> Counter {
            Counter(label: "siteloc_location_requests_total", dimensions: [("host", host), ("outcome", outcome)])
        }
        answered = counter("answered")
        unknownPackage = counter("unknown-package")
        tooLarge = counter("too-large")
        badRequest = counter("bad-request")
    }

    /// A content location request and how it ended: `answered`, `bad-request`, `unknown-package`, `too-large`.
    func record(_ status: HTTPResponse.Status) {
        switch status.code {
        case 200: answered.increment()
        case 404: unknownPackage.increment()
        case 413: tooLarge.increment()
        default: badRequest.increment()
        }
    }
}

/// What a distribution point counts, made once per host as ``LocationMetrics`` is.
struct ContentMetrics: Sendable {
    enum Answer: String, CaseIterable {
        case whole, range, unsatisfiable, busy
        case notFound = "not-found"
        case notModified = "not-modified"
        case preconditionFailed = "precondition-failed"
    }

    private let requests: [Answer: Counter]
    private let servedBytes: Counter

    init(host: String) {
        requests = Dictionary(
            uniqueKeysWithValues: Answer.allCases.map {
                (
                    $0,
                    Counter(label: "siteloc_dp_requests_total", dimensions: [("host", host), ("answer", $0.rawValue)])
                )
            }
        )
        servedBytes = Counter(label: "siteloc_dp_served_bytes_total", dimensions: [("host", host)])
    }

    /// A content request and how it was answered.
    func request(_ answer: Answer) { requests[answer]?.increment() }

    /// Content bytes written to a client.
    func served(_ bytes: Int) { servedBytes.increment(by: bytes) }
}
