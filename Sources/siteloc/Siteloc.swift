import ArgumentParser
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
        _ = EnvironmentSecrets.values
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: ProcessMetrics.registry))
        LoggingSystem.bootstrap { label in
            var handler = ControlEscapingLogHandler(inner: StreamLogHandler.standardError(label: label))
            handler.logLevel =
                ProcessInfo.processInfo.environment["SITELOC_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) }
                ?? .warning
            return handler
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // The one place an exit status is decided: from the failure's kind.
            let (message, status) = outcome(of: error)
            guard let status else { exit(withError: error) }
            FileHandle.standardError.write(Data("\(message)\n".utf8))
            Foundation.exit(status.rawValue)
        }
    }

    /// The kind of any error a command meets: its own, or for the wrappers' errors (which know nothing of kinds)
    /// a directory or share that could not be used, or a name or password file that is not what it should be.
    static func kind(of error: any Error) -> FailureKind {
        switch error {
        case let failure as any KindedError: failure.kind
        case is SecretFileError, is LDAPURIError, is DistinguishedNameError: .badInput
        default: .serviceUnavailable
        }
    }

    /// What a command's failure prints and the status it exits with; nil for argument-parser's own outcomes (help,
    /// a version, an exit code a command chose), which it reports itself.
    static func outcome(of error: any Error) -> (message: String, status: ExitStatus?) {
        switch error {
        case let failure as any KindedError:
            let prefix = failure.kind == .internalError ? "internal error" : "error"
            return ("\(prefix): \(failure.description)", ExitStatus(failure.kind))
        // The wrappers' own errors: a directory or share that could not be used, a password file that cannot.
        case is LDAPError, is SMBError, is SecretFileError, is LDAPURIError, is DistinguishedNameError:
            return ("error: \(error)", ExitStatus(kind(of: error)))
        default:
            // argument-parser would say 64 for a value it refused; docs/command-line.md says 2.
            if exitCode(for: error) == .validationFailure { return (fullMessage(for: error), .badInput) }
            return ("", nil)
        }
    }
}

/// The exit statuses of docs/command-line.md.
enum ExitStatus: Int32 {
    case done = 0
    case problemsFound = 1
    case badInput = 2
    case serviceUnavailable = 3

    init(_ kind: FailureKind) {
        switch kind {
        case .badInput: self = .badInput
        case .checkFailed: self = .problemsFound
        case .serviceUnavailable, .internalError: self = .serviceUnavailable
        }
    }
}

/// A failure the command line itself finds (a site the file does not have, a flag that contradicts another), with
/// its kind; failures of the libraries go up as they are, with theirs.
struct CommandFailure: KindedError {
    let kind: FailureKind
    let description: String

    static func badInput(_ message: String) -> CommandFailure { CommandFailure(kind: .badInput, description: message) }
    static func unavailable(_ message: String) -> CommandFailure {
        CommandFailure(kind: .serviceUnavailable, description: message)
    }

    init(kind: FailureKind, description: String) {
        self.kind = kind
        self.description = description
    }

    /// `error` said with what the command was doing; of the error's own kind.
    init(context: String, _ error: any Error) {
        kind = Siteloc.kind(of: error)
        description = "\(context): \(error)"
    }
}

/// `--dir` for the lab commands.
struct LabDirectoryOption: ParsableArguments {
    @Option(name: .customLong("dir"), help: "The lab folder.")
    var directory: String = Lab.defaultDirectory
}

extension Logger {
    static let siteloc = Logger(label: "siteloc")
}

/// An option's value, or else the environment variable's (an empty variable counts as unset).
func optionOrEnvironment(_ value: String?, _ variable: String) -> String? {
    value ?? ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }
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
