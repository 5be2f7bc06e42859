import Foundation

/// A file of keys that only its owner may read (a site's signing key, a machine's keytab): like ssh with a private
/// key, one that others can read, or that is not a regular file, is refused before it is used.
public enum OwnerOnlyFile {
    public enum Refusal: Equatable, Sendable {
        case missing
        case notRegular
        /// Its permission bits, some of them for the group or others.
        case readableByOthers(mode: Int)
    }

    /// Why `path` cannot be used as an owner-only file; nil when it can. A symbolic link is reported as what it is,
    /// not followed.
    public static func refusal(_ path: String) -> Refusal? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return .missing }
        guard attributes[.type] as? FileAttributeType == .typeRegular else { return .notRegular }
        let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
        return mode & 0o077 == 0 ? nil : .readableByOthers(mode: mode)
    }

    /// The words for a refusal of `what` (`the keytab /path`), with how to mend it.
    public static func describe(_ refusal: Refusal, _ what: String, path: String) -> String {
        switch refusal {
        case .missing: "\(what) cannot be read"
        case .notRegular: "\(what) is not a regular file"
        case .readableByOthers(let mode):
            "\(what) is readable by others (mode \(String(mode, radix: 8))); expected mode 600: chmod 600 \(path)"
        }
    }
}
