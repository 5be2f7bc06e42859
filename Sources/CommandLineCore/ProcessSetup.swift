import Foundation
package import LDAPKit
package import Logging
import SiteModel

#if canImport(Glibc)
import Glibc
#endif

/// Passwords given through the environment, taken out of it when the process starts: no child (slapd, slapadd,
/// smbd, pdbedit) and not the slapd that `siteloc serve` becomes ever inherits them.
package enum EnvironmentSecrets {
    package static let names = ["SITELOC_ADMIN_PASSWORD", "SITELOC_BIND_PASSWORD", "SITELOC_REPLICATION_PASSWORD"]

    package static let values: [String: Secret] = {
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
package struct ControlEscapingLogHandler: LogHandler {
    package var inner: StreamLogHandler

    package init(inner: StreamLogHandler) { self.inner = inner }

    package var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    package var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    package func log(event: LogEvent) {
        var escaped = event
        escaped.message = "\(Self.escape(event.message.description))"
        escaped.metadata = event.metadata?.mapValues(Self.escape)
        inner.log(event: escaped)
    }

    package static func escape(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(escape(text))
        case .stringConvertible(let convertible): .string(escape(convertible.description))
        case .array(let values): .array(values.map(escape))
        case .dictionary(let values): .dictionary(values.mapValues(escape))
        }
    }

    package static func escape(_ text: String) -> String { UntrustedText.escape(text) }
}
