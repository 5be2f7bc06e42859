import ArgumentParser
import CommandLineCore
import Foundation
import Logging

/// The container image's binary, installed there as `siteloc`: only `siteloc serve`, built without what the rest
/// of siteloc needs (HTTP, SQLite, cryptography), so that its static build takes minutes, not a quarter of an hour.
@main
struct SitelocServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siteloc",
        abstract: "Run one forest's directory (the siteloc container image).",
        discussion: "Exit status: 0 done; 2 bad input; 3 the directory could not be prepared.",
        subcommands: [ServeCommand.self]
    )

    static func main() async {
        _ = EnvironmentSecrets.values
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
            exit(after: error)
        }
    }
}
