import Foundation

/// The address of one directory server: `ldap://host[:port]`, `ldaps://host[:port]` or
/// `ldapi://<percent-encoded socket path>`.
///
/// Parsed and checked when made, so a typo is an error naming the expected form rather than a connection failure.
public struct LDAPURI: Hashable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Sendable {
        case ldap, ldaps, ldapi
    }

    public let scheme: Scheme
    /// Host name or address (`ldap`, `ldaps`); the socket path (`ldapi`).
    public let host: String
    /// The port, when the URI names one.
    public let port: Int?
    /// The URI as libldap is given it.
    public let string: String

    public init(_ string: String) throws(LDAPURIError) {
        guard let separator = string.range(of: "://") else {
            throw LDAPURIError(uri: string, reason: "has no scheme")
        }
        guard let scheme = Scheme(rawValue: string[..<separator.lowerBound].lowercased()) else {
            throw LDAPURIError(uri: string, reason: "has an unsupported scheme")
        }
        var rest = Substring(string[separator.upperBound...])
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") && !rest.contains("?") else {
            throw LDAPURIError(uri: string, reason: "has a path or query; only scheme, host and port are allowed")
        }
        self.scheme = scheme
        self.string = string
        switch scheme {
        case .ldapi:
            guard let path = rest.removingPercentEncoding, path.hasPrefix("/") else {
                throw LDAPURIError(uri: string, reason: "does not name an absolute, percent-encoded socket path")
            }
            host = path
            port = nil
        case .ldap, .ldaps:
            var hostPart = rest
            var portNumber: Int?
            if hostPart.hasPrefix("[") {  // [IPv6]:port
                guard let close = hostPart.firstIndex(of: "]") else {
                    throw LDAPURIError(uri: string, reason: "has an unterminated IPv6 address")
                }
                let after = hostPart[hostPart.index(after: close)...]
                if after.hasPrefix(":") { portNumber = Int(after.dropFirst()) ?? -1 }
                hostPart = hostPart[...close]
            } else if let colon = hostPart.lastIndex(of: ":") {
                portNumber = Int(hostPart[hostPart.index(after: colon)...]) ?? -1
                hostPart = hostPart[..<colon]
            }
            guard !hostPart.isEmpty else {
                throw LDAPURIError(uri: string, reason: "has no host")
            }
            if let portNumber, !(1...65535).contains(portNumber) {
                throw LDAPURIError(uri: string, reason: "has an invalid port")
            }
            host = String(hostPart)
            port = portNumber
        }
    }

    /// The `ldapi://` URI of a Unix domain socket.
    public static func ldapi(socketPath: String) -> LDAPURI {
        var encoded = ""
        for byte in socketPath.utf8 {
            let isSafe =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            if isSafe {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        // A percent-encoded absolute path always parses.
        return try! LDAPURI("ldapi://" + encoded)
    }

    public var description: String { string }
}

/// A directory URI that is not of a supported form.
public struct LDAPURIError: Error, CustomStringConvertible {
    public let uri: String
    public let reason: String
    public var description: String {
        "directory URI '\(uri)' \(reason); expected ldap://HOST[:PORT], ldaps://HOST[:PORT] or ldapi://%2Fpath%2Fto%2Fsocket"
    }
}

extension String {
    package func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
