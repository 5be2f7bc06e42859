public import Foundation
public import LDAPKit
public import Logging
public import ServiceLifecycle
public import SiteClient
public import SiteDirectory
public import SiteLocation
public import SiteModel
public import SiteServer
public import SiteServices

/// Where the parts of a hierarchy run and how they reach one another: each forest's directory, each site server's
/// folder and the way the standard sender reaches its inbox. The command line, the demo, the tests and the
/// benchmarks build site servers, directory clients and locators from one of these, so that they all run the same
/// assembly; the lab (``Lab/deployment(for:directories:transport:)``) is one provider of it, a test's folders another.
///
/// It is the one place that decides who reaches which directory how (``DirectoryAccess``): readers — roaming
/// clients, site servers looking up keys — with ``directories`` (anonymous today: boundaries, management points and
/// site keys are world-readable, as in Active Directory), and what a site writes with its own identity
/// (``siteCredentials``, ``siteAccess(of:timeout:)``). A new way to authenticate (GSSAPI from a keytab) enters as a
/// ``DirectoryCredential`` handed out here.
public struct Deployment: Sendable {
    public var hierarchy: Hierarchy
    /// How readers reach each forest's directory: its servers, credential and time limits. A forest without an
    /// entry has no directory: its clients roam regionally and its site servers take neighbours' keys from
    /// imported key files.
    public var directories: [ForestName: DirectoryAccess]
    /// Who each site server is to its forest's directory (what it publishes with); nil: it has no identity there.
    public var siteCredentials: @Sendable (Site) -> DirectoryCredential? = { _ in nil }
    /// The folder that holds a site's site-server folder (`<root>/<CODE>`): one folder for every site in a lab, a
    /// machine of its own per site in a deployment.
    public var siteRoot: @Sendable (SiteCode) -> URL
    /// How the standard sender reaches the inbox of the site server an address points at.
    public var inboxes: InboxResolver
    /// Where a site-system host's HTTP services listen (its management point and distribution point roles):
    /// `https://HOST` for a native-mode site's system, `http://HOST` for a mixed-mode one, unless a provider knows
    /// better (the lab records the port each host listens on).
    public var systemURLs: SystemURLs
    /// The certificate a native-mode site's system presents (HTTPS with client certificates); nil: none can be had,
    /// and the system is not served.
    public var serverIdentity: @Sendable (SiteSystem) -> TLSIdentity? = { _ in nil }
    public var logger: Logger

    /// Every site's folder under `sitesDirectory`; the standard sender delivers into inbox folders unless
    /// `inboxes` says otherwise.
    public init(
        hierarchy: Hierarchy,
        directories: [ForestName: DirectoryAccess] = [:],
        sitesDirectory: URL,
        inboxes: InboxResolver? = nil,
        logger: Logger
    ) {
        self.init(
            hierarchy: hierarchy,
            directories: directories,
            siteRoot: { _ in sitesDirectory },
            inboxes: inboxes,
            logger: logger
        )
    }

    /// Each site's folder under a root of its own (`siteRoot`), as on machines of their own.
    public init(
        hierarchy: Hierarchy,
        directories: [ForestName: DirectoryAccess] = [:],
        siteRoot: @escaping @Sendable (SiteCode) -> URL,
        inboxes: InboxResolver? = nil,
        logger: Logger
    ) {
        self.hierarchy = hierarchy
        self.directories = directories
        self.siteRoot = siteRoot
        self.inboxes = inboxes ?? Self.inboxFolders(siteRoot: siteRoot)
        self.logger = logger
        systemURLs = Self.standardURLs(hierarchy)
    }

    /// Each site system at its role's standard port, in the scheme its site's mode serves.
    public static func standardURLs(_ hierarchy: Hierarchy) -> SystemURLs {
        var schemes: [String: String] = [:]
        for site in hierarchy.sites {
            for system in site.systems {
                schemes[system.host.lowercased()] = hierarchy.mode(of: site) == .native ? "https" : "http"
            }
        }
        let known = schemes
        return { host in known[host.lowercased()].flatMap { URL(string: "\($0)://\(host)") } }
    }

    /// Delivery straight into each site server's inbox folder.
    public static func inboxFolders(siteRoot: @escaping @Sendable (SiteCode) -> URL) -> InboxResolver {
        { site, _ in .folder(SiteFolders(site: site, sitesDirectory: siteRoot(site)).inbox) }
    }

    /// A site server's folders.
    public func folders(of site: SiteCode) -> SiteFolders {
        SiteFolders(site: site, sitesDirectory: siteRoot(site))
    }

    // MARK: Directories

    /// How a site's server reaches its forest's directory as itself, each wait bounded by `timeout` (the readers'
    /// limits when nil).
    public func siteAccess(of site: Site, timeout: Duration? = nil) throws(DeploymentError) -> DirectoryAccess {
        guard var access = directories[site.forest] else {
            throw DeploymentError(
                "no directory for forest \(site.forest): give --directory, list it in the file, or start the lab "
                    + "with: siteloc lab up --hierarchy FILE"
            )
        }
        guard let credential = siteCredentials(site) else {
            throw DeploymentError("site \(site.code) has no identity in forest \(site.forest)'s directory")
        }
        access.credential = credential
        if let timeout { access = access.bounded(by: timeout) }
        return access
    }

    /// Connects each site as itself (what `publish` writes with); writes wait longer than a reader's questions.
    public func siteConnector(timeout: Duration = .seconds(10)) -> Publisher.Connector {
        let deployment = self
        return { site in try await deployment.siteAccess(of: site, timeout: timeout).connect(logger: deployment.logger)
        }
    }

    /// The sites whose site-server folder has been initialised (`siteloc site init`).
    public var initializedSites: [Site] {
        hierarchy.sites.filter { folders(of: $0.code).isInitialized }
    }

    // MARK: Site servers

    /// Reads a site's published key from the directory of its forest.
    public var directoryKeys: DirectoryKeyLookup {
        let keys = DirectorySiteKeys(hierarchy: hierarchy, directories: directories, logger: logger)
        return { site in await keys.key(of: site) }
    }

    /// The settings of a site's server in this deployment.
    public func siteServerSettings(_ site: SiteCode) -> SiteServerSettings {
        SiteServerSettings(
            site: site,
            hierarchy: hierarchy,
            sitesDirectory: siteRoot(site),
            resolveInbox: inboxes,
            directoryKey: directories.isEmpty ? nil : directoryKeys
        )
    }

    /// The site servers of `sites`; `configure` adjusts each one's settings.
    public func siteServers(
        _ sites: [SiteCode],
        configure: (inout SiteServerSettings) -> Void = { _ in }
    ) throws(SiteServerError) -> [SiteServer] {
        var servers: [SiteServer] = []
        for site in sites {
            var settings = siteServerSettings(site)
            configure(&settings)
            servers.append(try SiteServer(settings: settings, logger: logger))
        }
        return servers
    }

    // MARK: Site systems

    /// The HTTP services of the site systems of `sites` with a management point or distribution point role, each
    /// on its own listener (`address`, a free port); `onListening` learns where each listens.
    /// A native-mode site's systems serve HTTPS only, with their certificate from ``serverIdentity``, and require a
    /// client certificate from the same authority; a mixed-mode site's serve HTTP. With `metrics`, each also serves
    /// the process's metrics at `/metrics`.
    public func siteSystemServers(
        _ sites: [SiteCode],
        address: String = "127.0.0.1",
        metrics: MetricsExposition? = nil,
        limits: ServiceLimits? = nil,
        onListening: @escaping @Sendable (SiteSystem, Site, URL) async -> Void = { _, _, _ in }
    ) throws(DeploymentError) -> [SiteSystemServer] {
        var servers: [SiteSystemServer] = []
        let listeners = sites.compactMap(hierarchy.site).flatMap(\.systems).filter(SiteSystemServer.serves).count
        // Together the listeners keep half the process's descriptors for the site servers (docs/hardening.md).
        let limits =
            limits ?? ServiceLimits.sharing(descriptors: ProcessLimits.raiseDescriptorLimit(), among: listeners)
        for code in sites {
            guard let site = hierarchy.site(code) else { continue }
            let native = hierarchy.mode(of: site) == .native
            for system in site.systems where SiteSystemServer.serves(system) {
                var identity: TLSIdentity?
                if native {
                    guard let issued = serverIdentity(system) else {
                        throw DeploymentError(
                            "\(system.host) is a system of native-mode site \(code) and has no certificate: it serves"
                                + " HTTPS only (the lab issues one from its certificate authority)"
                        )
                    }
                    identity = issued
                }
                let scheme = native ? "https" : "http"
                do {
                    servers.append(
                        try SiteSystemServer(
                            system: system,
                            site: site,
                            hierarchy: hierarchy,
                            folders: folders(of: code),
                            systemURLs: systemURLs,
                            address: address,
                            tls: identity,
                            metrics: metrics,
                            limits: limits,
                            logger: logger
                        ) { port in
                            guard let url = URL(string: "\(scheme)://\(address):\(port)") else { return }
                            await onListening(system, site, url)
                        }
                    )
                } catch {
                    throw DeploymentError("cannot serve \(system.host): \(error)")
                }
            }
        }
        return servers
    }

    // MARK: Clients and management points

    /// A roaming client's connection to a forest's directory; nil when the forest has none.
    public func directoryClient(for forest: ForestName, timeout: Duration? = nil) -> LDAPSiteDirectoryClient? {
        guard var access = directories[forest] else { return nil }
        if let timeout { access = access.bounded(by: timeout) }
        return LDAPSiteDirectoryClient(access: access, layout: DirectoryLayout(forest: forest), logger: logger)
    }

    /// The client that finds content and downloads it (`siteloc client get`): directories as this deployment
    /// knows them, management points and distribution points where their hosts listen.
    public func contentClient(
        state: URL,
        timeout: Duration = .seconds(5),
        maxRate: Int? = nil,
        directoryTimeout: Duration? = nil
    ) -> ContentClient {
        let deployment = self
        var client = ContentClient(
            hierarchy: hierarchy,
            directory: { deployment.directoryClient(for: $0, timeout: directoryTimeout) },
            systemURLs: systemURLs,
            state: ClientState(folder: state),
            timeout: timeout,
            maxRate: maxRate,
            logger: logger
        )
        client.identity = ClientState(folder: state).identity()
        return client
    }

    /// What each site's management point knows of content: its own site database (the hierarchy file where no
    /// site server has run yet).
    public var contentKnowledge: SiteContentKnowledge {
        SiteContentKnowledge(hierarchy: hierarchy, siteRoot: siteRoot)
    }

    /// The locator clients use: each forest's directory, and management points answering from their sites'
    /// databases. `timeout` overrides the directories' own limits for the client's directory questions.
    public func locator(timeout: Duration? = nil) -> Locator {
        var clients: [ForestName: LDAPSiteDirectoryClient] = [:]
        for forest in hierarchy.forests {
            clients[forest.name] = directoryClient(for: forest.name, timeout: timeout)
        }
        let known = clients
        let knowledge = contentKnowledge
        return Locator(
            hierarchy: hierarchy,
            holders: { knowledge.holders(at: $0, of: $1) },
            directory: { known[$0] }
        )
    }
}

/// Runs `services` while `body` runs, then shuts them down gracefully and waits until they have stopped: a caller's
/// scope, not tasks left behind (for the demo and tests, which run site servers and site systems in their own
/// process). A graceful shutdown, not a cancellation: the HTTP servers close their listeners and finish the requests
/// in flight, and the site servers end their pass.
public func withServices<T: Sendable>(
    _ services: [any Service],
    logger: Logger,
    _ body: () async throws -> T
) async throws -> T {
    let group = ServiceGroup(services: services, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        await group.triggerGracefulShutdown()
        try? await tasks.waitForAll()
        return try result.get()
    }
}

/// A deployment that cannot be assembled as configured, and why.
public struct DeploymentError: KindedError {
    public let description: String
    public let kind: FailureKind
    public init(_ description: String, kind: FailureKind = .serviceUnavailable) {
        self.description = description
        self.kind = kind
    }
}
