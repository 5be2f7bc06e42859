package import ArgumentParser
import Foundation
import LDAPKit
package import Logging
import SMBKit
package import SiteModel
import SystemCalls

/// How a command's failure ends the process: the one place an exit status is decided, from the failure's kind
/// (docs/command-line.md, "Exit status"). Shared by `siteloc` and the container's `siteloc-serve`.
package enum CommandOutcome {
    /// The kind of any error a command meets: its own, or for the wrappers' errors (which know nothing of kinds)
    /// a directory or share that could not be used, or a name or password file that is not what it should be.
    package static func kind(of error: any Error) -> FailureKind {
        switch error {
        case let failure as any KindedError: failure.kind
        case is SecretFileError, is LDAPURIError, is DistinguishedNameError: .badInput
        case is SystemCallError: .internalError
        default: .serviceUnavailable
        }
    }

}

extension ParsableCommand {
    /// What both executables' `main` does: environment secrets taken out of the environment before anything can
    /// start a child, log lines escaped on standard error at `SITELOC_LOG_LEVEL`, then the command, and its
    /// failure's exit status (``exit(after:)``).
    package static func runAsExecutable() async {
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

    /// What a command's failure prints and the status it exits with; nil for argument-parser's own outcomes (help,
    /// a version, an exit code a command chose), which it reports itself.
    package static func outcome(of error: any Error) -> (message: String, status: ExitStatus?) {
        switch error {
        case let failure as any KindedError:
            let prefix = failure.kind == .internalError ? "internal error" : "error"
            return ("\(prefix): \(failure.description)", ExitStatus(failure.kind))
        // The wrappers' own errors: a directory or share that could not be used, a password file that cannot.
        case is LDAPError, is SMBError, is SecretFileError, is LDAPURIError, is DistinguishedNameError,
            is SystemCallError:
            return ("error: \(error)", ExitStatus(CommandOutcome.kind(of: error)))
        default:
            // argument-parser would say 64 for a value it refused; docs/command-line.md says 2.
            if exitCode(for: error) == .validationFailure { return (fullMessage(for: error), .badInput) }
            return ("", nil)
        }
    }

    /// Prints the failure and exits with its status; argument-parser's own outcomes (help, a version, an exit code a
    /// command chose) it reports itself.
    package static func exit(after error: any Error) -> Never {
        let (message, status) = outcome(of: error)
        guard let status else { exit(withError: error) }
        FileHandle.standardError.write(Data("\(message)\n".utf8))
        Foundation.exit(status.rawValue)
    }
}

/// The exit statuses of docs/command-line.md.
package enum ExitStatus: Int32 {
    case done = 0
    case problemsFound = 1
    case badInput = 2
    case serviceUnavailable = 3

    package init(_ kind: FailureKind) {
        switch kind {
        case .badInput: self = .badInput
        case .checkFailed: self = .problemsFound
        case .serviceUnavailable, .internalError: self = .serviceUnavailable
        }
    }
}

/// A failure the command line itself finds (a site the file does not have, a flag that contradicts another), with
/// its kind; failures of the libraries go up as they are, with theirs.
package struct CommandFailure: KindedError {
    package let kind: FailureKind
    package let description: String

    package static func badInput(_ message: String) -> CommandFailure {
        CommandFailure(kind: .badInput, description: message)
    }
    package static func unavailable(_ message: String) -> CommandFailure {
        CommandFailure(kind: .serviceUnavailable, description: message)
    }

    package init(kind: FailureKind, description: String) {
        self.kind = kind
        self.description = description
    }

    /// `error` said with what the command was doing; of the error's own kind.
    package init(context: String, _ error: any Error) {
        kind = CommandOutcome.kind(of: error)
        description = "\(context): \(error)"
    }
}

extension Logger {
    package static let siteloc = Logger(label: "siteloc")
}

/// An option's value, or else the environment variable's (an empty variable counts as unset).
package func optionOrEnvironment(_ value: String?, _ variable: String) -> String? {
    value ?? ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }
}
