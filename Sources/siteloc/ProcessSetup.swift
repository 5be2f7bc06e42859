import CommandLineCore
import Foundation
import LDAPKit
import Logging
import SiteModel

#if canImport(Glibc)
import Glibc
#endif

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
