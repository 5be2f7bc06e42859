public import LDAPKit
public import Logging
import SiteDirectory
public import SiteModel

/// Reads sites' public keys from their forests' directories: `serviceBindingInformation` of `SMS-Site-<code>`.
public struct DirectorySiteKeys: Sendable {
    public let hierarchy: Hierarchy
    /// How this site server reads each forest's directory; its timeouts bound how long it waits for a key.
    public let directories: [ForestName: DirectoryAccess]
    public let logger: Logger

    public init(hierarchy: Hierarchy, directories: [ForestName: DirectoryAccess], logger: Logger) {
        self.hierarchy = hierarchy
        self.directories = directories
        self.logger = logger
    }

    /// The key the directory of the site's forest holds for it, that it has none (the site is not published or has
    /// no key there), or that the directory could not be asked. Without a key from here the site server uses an
    /// imported key file, and refuses the job as `unknown-key` when there is none, saying what to do.
    public func key(of code: SiteCode) async -> DirectoryKeyAnswer {
        guard let site = hierarchy.site(code), let access = directories[site.forest] else { return .absent }
        let layout = DirectoryLayout(forest: site.forest)
        do {
            let values = try await access.withSession(logger: logger) { session in
                try SiteSystemLookup.publishedKeys(of: code, in: layout, in: session)
            }
            return values.lazy.compactMap(SitePublicKey.init(published:)).first.map { .key($0) } ?? .absent
        } catch {
            logger.warning(
                "cannot read a site's key from the directory",
                metadata: ["site": "\(code)", "error": "\(error)"]
            )
            return .unreachable
        }
    }
}
