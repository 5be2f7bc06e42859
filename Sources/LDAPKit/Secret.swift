public import Foundation

/// A password or other credential. It never prints, so it cannot end up in a log line or an error message by
/// accident; only the connection code reads its bytes.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    package let bytes: [UInt8]

    public init(_ value: String) {
        bytes = Array(value.utf8)
    }

    /// Reads a secret from a file, dropping one trailing newline (files written by editors and `echo` have one).
    public init(contentsOf file: URL) throws(SecretFileError) {
        let data: [UInt8]
        do {
            data = try Array(Data(contentsOf: file))
        } catch {
            throw SecretFileError(path: file.path, reason: "cannot be read")
        }
        var value = data
        if value.last == UInt8(ascii: "\n") { value.removeLast() }
        if value.last == UInt8(ascii: "\r") { value.removeLast() }
        guard !value.isEmpty else {
            throw SecretFileError(path: file.path, reason: "is empty; expected the password on its first line")
        }
        bytes = value
    }

    public var isEmpty: Bool { bytes.isEmpty }

    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
}

/// A password file that could not be used. It names the file, never its content.
public struct SecretFileError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "password file \(path) \(reason)" }
}
