public import DirectoryServing
import Foundation
public import LDAPKit
import Logging
import SMBKit
public import SiteLab
public import SiteModel
import SiteServer
import Synchronization

/// How a lab's site servers reach one another's inboxes.
public enum LabTransport: String, Sendable, CaseIterable {
    /// Through the lab's smbd, one `SMS_<CODE>` share per inbox, as Configuration Manager's standard sender does.
    case smb
    /// Straight into the inbox folders (one machine, no smbd).
    case folder
}

extension Lab {
    /// This lab as a deployment: each forest's directory from `directories`, else the file's URIs, else the lab's
    /// own slapd, read anonymously and bounded by `directoryTimeout`; each site server's identity its computer
    /// entry with the password in the lab (or in `identities/<code>.password`); every site's folder in the lab's
    /// `sites/`; deliveries over the lab's smbd when it runs (or as `transport` says).
    public func deployment(
        for hierarchy: Hierarchy,
        directories override: [LDAPURI] = [],
        directoryTimeout: Duration = .seconds(2),
        identities: String? = nil,
        transport: LabTransport? = nil
    ) throws(LabError) -> Deployment {
        var directories: [ForestName: DirectoryAccess] = [:]
        for forest in hierarchy.forests {
            let uris = try directoryURIs(for: forest, override: override)
            guard !uris.isEmpty else { continue }
            directories[forest.name] = DirectoryAccess(uris: uris, timeout: directoryTimeout)
        }
        var deployment = Deployment(
            hierarchy: hierarchy,
            directories: directories,
            sitesDirectory: sitesDirectory,
            inboxes: try inboxes(transport: transport),
            logger: logger
        )
        let lab = self
        deployment.siteCredentials = { site in lab.credential(of: site, identities: identities) }
        // A management point gives a URL for every distribution point it offers: reading the lab's record (a file
        // and the serving process's /proc entry) for each one on every request is kept to once a second per host.
        let records = RecentSystemURLs()
        deployment.systemURLs = { host in records.url(host) { lab.systemURL(host) } }
        let authority = LabCertificateAuthority(lab: self)
        deployment.serverIdentity = { system in
            do {
                return try authority.serverIdentity(for: system.host)
            } catch {
                lab.logger.error("\(error)")
                return nil
            }
        }
        return deployment
    }

    /// Where the standard sender finds each site server's inbox: the lab's smbd (it serves every site server name
    /// of the lab) or the inbox folders themselves.
    private func inboxes(transport: LabTransport?) throws(LabError) -> InboxResolver? {
        let running = fileSharesRunning()
        guard (transport ?? (running ? .smb : .folder)) == .smb else { return nil }
        guard let shares = fileShares(), running else {
            throw LabError(
                "the lab's smbd is not running in \(directory.path); start it with: siteloc lab up --hierarchy FILE"
            )
        }
        let credentials = try shares.credentials()
        return { site, _ in
            .smb(host: shares.host, port: shares.port, share: LabFileShares.share(of: site), credentials: credentials)
        }
    }
}

/// Where site-system hosts listened when last looked up, for a second.
final class RecentSystemURLs: Sendable {
    private let known = Mutex<[String: (url: URL, at: ContinuousClock.Instant)]>([:])
    static let lifetime = Duration.seconds(1)

    func url(_ host: String, lookUp: () -> URL?) -> URL? {
        let now = ContinuousClock.now
        if let recent = known.withLock({ $0[host] }), now - recent.at < Self.lifetime { return recent.url }
        guard let url = lookUp() else { return nil }
        known.withLock { $0[host] = (url, now) }
        return url
    }
}
