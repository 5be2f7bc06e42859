public import Foundation
public import SMBKit
public import SiteModel

/// How one site server runs.
public struct SiteServerSettings: Sendable {
    public var site: SiteCode
    public var hierarchy: Hierarchy
    public var sitesDirectory: URL
    public var resolveInbox: InboxResolver
    /// Reads a site's published key from the directory of the site's forest; nil when there is no directory.
    public var directoryKey: DirectoryKeyLookup?
    /// How often the inbox and outbox are looked at.
    public var pollInterval: Duration = .milliseconds(200)
    /// Overrides the hierarchy's `retryDelayMinutes` (labs and tests do not want to wait minutes).
    public var retryDelay: Duration?
    /// Secure key exchange: on by default; off accepts unsigned jobs and logs a warning for each.
    public var secureKeyExchange = true
    public var calendar: Calendar = .current
    /// With smbclient, the standard sender copies a job of 8 MiB or more with Samba's `smbclient put`, which keeps
    /// many writes in flight (``SMBClientUpload``), on addresses without a rate limit; without it, and on paced
    /// addresses, over libsmbclient, one write at a time.
    public var smbclient: SMBClientProgram?
    /// Senders added to the built-in ones (``JobSenders``), or replacing one, by the address type they serve.
    public var senders: [SenderType: any JobSender] = [:]

    public init(
        site: SiteCode,
        hierarchy: Hierarchy,
        sitesDirectory: URL,
        resolveInbox: @escaping InboxResolver,
        directoryKey: DirectoryKeyLookup? = nil
    ) {
        self.site = site
        self.hierarchy = hierarchy
        self.sitesDirectory = sitesDirectory
        self.resolveInbox = resolveInbox
        self.directoryKey = directoryKey
    }
}
