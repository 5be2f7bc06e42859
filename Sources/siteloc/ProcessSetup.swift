import Foundation
import LDAPKit
import Logging
import SiteModel

#if canImport(Glibc)
import Glibc
#endif

/// Passwords given through the environment, taken out of it when the process starts: no child (slapd, slapadd,
/// smbd, pdbedit) and not the slapd that `siteloc serve` becomes ever inherits them.
enum EnvironmentSecrets {
    static let names = ["SITELOC_ADMIN_PASSWORD", "SITELOC_BIND_PASSWORD", "SITELOC_REPLICATION_PASSWORD"]

    static let values: [String: Secret] = {
        var values: [String: Secret] = [:]
        for name in names {
            if let value = getenv(name).map({ String(cString: $0) }), !value.isEmpty { values[name] = Secret(value) }
            unsetenv(name)
        }
        return values
    }()
}

/// Log lines on standard error in which nothing a peer sent (a file name, a job id, a server's message) can start a
/// line of its own or move the cursor: control characters in the message and in metadata are written as `\u{…}`.
struct ControlEscapingLogHandler: LogHandler {
    var inner: StreamLogHandler

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var escaped = event
        escaped.message = "\(Self.escape(event.message.description))"
        escaped.metadata = event.metadata?.mapValues(Self.escape)
        inner.log(event: escaped)
    }

    static func escape(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(escape(text))
        case .stringConvertible(let convertible): .string(escape(convertible.description))
        case .array(let values): .array(values.map(escape))
        case .dictionary(let values): .dictionary(values.mapValues(escape))
        }
    }

    static func escape(_ text: String) -> String { UntrustedText.escape(text) }
}

/// Log lines appended to a file, escaped as on standard error: for a walk-through (`siteloc demo`) whose own output
/// tells the story while the site servers' logs go where it names.
struct FileLogHandler: LogHandler {
    /// One open file shared by every logger of the handler; writes are whole lines, one `write` each.
    final class Sink: Sendable {
        let handle: FileHandle
        init(_ url: URL) throws {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw CommandFailure.badInput("cannot create the log file \(url.path)")
            }
            handle = try FileHandle(forWritingTo: url)
        }
        func write(_ line: String) { try? handle.write(contentsOf: Data(line.utf8)) }
    }

    let sink: Sink
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }
            .map { "\($0.key)=\(ControlEscapingLogHandler.escape($0.value))" }.joined(separator: " ")
        let time = ISO8601DateFormatter().string(from: Date())
        sink.write(
            "\(time) \(event.level) \(label): \(fields.isEmpty ? "" : fields + " ")"
                + "\(ControlEscapingLogHandler.escape(event.message.description))\n"
        )
    }
}
