import ArgumentParser
import CommandLineCore
import Foundation
import LDAPKit
import Logging
import Metrics
import Prometheus
import SMBKit
import SiteLab
import SiteModel
import SiteServices

@main
struct Siteloc: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siteloc",
        abstract: "Directory-backed service location for a Configuration Manager 2007 style site hierarchy.",
        discussion: """
            OpenLDAP stands in for Active Directory. Start with `siteloc demo`, or bring up a lab directory with \
            `siteloc lab up --forest corp.contoso.com`.

            Exit status: 0 done; 1 a check found problems; 2 bad input; 3 a directory or other service could not \
            be used. Set SITELOC_LOG_LEVEL (trace, debug, info, warning, error) for diagnostics on standard error.
            """,
        subcommands: [
            ValidateCommand.self, LabCommand.self, PublishCommand.self, UnpublishCommand.self, LocateCommand.self,
            ContentCommand.self, RouteCommand.self, SiteCommand.self, KeysCommand.self, SendCommand.self,
            CourierCommand.self, TrustCommand.self, ForestCommand.self, SchemaCommand.self,
            ServeCommand.self, ClientCommand.self, DemoCommand.self,
        ]
    )

    /// Runs the command and exits with the status of docs/command-line.md: bad input is 2 (argument-parser's own choice
    /// would be 64), a directory that cannot be used is 3.
    static func main() async {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: ProcessMetrics.registry))
        await runAsExecutable()
    }
}

/// `--dir` for the lab commands.
struct LabDirectoryOption: ParsableArguments {
    @Option(name: .customLong("dir"), help: "The lab folder.")
    var directory: String = Lab.defaultDirectory
}

/// Prints a value as pretty JSON with sorted keys.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// The process's metrics (docs/operations.md, "Metrics"): the libraries emit through swift-metrics; `main`
/// bootstraps it once with this Prometheus registry, which every site system's `/metrics` shows.
enum ProcessMetrics {
    static let registry = PrometheusCollectorRegistry()

    static let exposition = MetricsExposition { registry.emitToString() }
}
