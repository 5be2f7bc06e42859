import ArgumentParser
import CommandLineCore
import Foundation
import LDAPKit
import Logging
import SMBKit
import ServiceLifecycle
import SiteAssembly
import SiteDatabase
import SiteLab
import SiteModel
import SiteRouting
import SiteServer
import SiteServices
import UnixSignals

struct SiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site",
        abstract: "Site servers: their folders and keys, running one, and what each is doing.",
        subcommands: [SiteInitCommand.self, SiteRunCommand.self, SiteStatusCommand.self]
    )
}

/// The lab folder and the site a site-server command is about.
struct SiteOptions: ParsableArguments {
    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Option(help: "The site's code.")
    var site: String

    @Option(name: .customLong("dir"), help: "The lab folder; site servers live in its sites/ folder.")
    var labDirectory: String = Lab.defaultDirectory

    var lab: Lab { Lab(directory: labDirectory, logger: .siteloc) }

    init() {}

    init(hierarchy: String, site: String, labDirectory: String) {
        self.hierarchy = hierarchy
        self.site = site
        self.labDirectory = labDirectory
    }

    /// The hierarchy and the site, or a bad-input failure that lists the sites.
    func load() throws -> (Hierarchy, Site) {
        let model = try loadHierarchy(hierarchy)
        guard let code = try? SiteCode(site.uppercased()), let found = model.site(code) else {
            throw CommandFailure.badInput(
                "site '\(site)' is not in \(hierarchy); expected one of "
                    + model.sites.map(\.code.rawValue).joined(separator: ", ")
            )
        }
        return (model, found)
    }
}

struct SiteInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Creates a site server's folders and its signing key pair (kept if it exists).",
        discussion: """
            The private key goes to <dir>/sites/<CODE>/keys/site.key, readable only by its owner. `siteloc \
            publish` then puts the public key into the site's serviceBindingInformation, where sites of the same \
            forest find it; for a neighbour in another forest use `siteloc keys export` and `siteloc keys import`.
            """
    )

    @OptionGroup var options: SiteOptions

    func run() throws {
        let (_, site) = try options.load()
        let folders = SiteFolders(site: site.code, sitesDirectory: options.lab.sitesDirectory)
        let (key, created) = try folders.initialize()
        print(
            "\(created ? "created" : "kept") the signing key of \(site.code) (fingerprint \(key.fingerprint)) in "
                + folders.keys.path
        )
        print("next: siteloc publish --hierarchy \(options.hierarchy) puts the public key into the directory")
    }
}

struct SiteRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract:
            "Runs a site server until SIGTERM or SIGINT: verifies, applies and forwards jobs, delivers its outbox.",
        discussion: """
            Beside the site server, each of the site's systems with a management point or distribution point role \
            is served over HTTP on 127.0.0.1 and a port of its own, recorded in <dir>/systems (siteloc lab status \
            lists them). Jobs arrive in <dir>/sites/<CODE>/inbox, which the lab's smbd shares as SMS_<CODE>. The standard sender \
            delivers over SMB when the lab's smbd runs (`siteloc lab up --hierarchy FILE` starts it), else into the \
            destination's inbox folder; --transport chooses. Killed at any moment, it resumes where it was.
            """
    )

    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Option(help: "The site's code.")
    var site: String?

    @Flag(help: "Run the site server of every initialised site in this one process (a lab on one machine).")
    var all = false

    @Option(name: .customLong("dir"), help: "The lab folder; site servers live in its sites/ folder.")
    var labDirectory: String = Lab.defaultDirectory

    @Option(
        help:
            "How the standard sender reaches other site servers' inboxes: smb or folder (default: smb when the lab's smbd runs).",
        transform: oneOf
    )
    var transport: LabTransport?

    @Option(help: "Seconds between delivery retries, overriding the file's retryDelayMinutes.")
    var retryDelay: Double?

    @Option(help: "Seconds between looks at the inbox and outbox.")
    var pollInterval: Double = 0.2

    @Flag(help: "Accept unsigned jobs (turns secure key exchange off for this site; logged as a warning).")
    var noSecureKeyExchange = false

    func validate() throws {
        guard (site != nil) != all else { throw ValidationError("give either --site CODE or --all") }
        if let retryDelay, retryDelay < 0 { throw ValidationError("--retry-delay must be 0 or more seconds") }
        guard pollInterval > 0 else { throw ValidationError("--poll-interval must be more than 0 seconds") }
    }

    func run() async throws {
        let lab = Lab(directory: labDirectory, logger: .siteloc)
        let model: Hierarchy
        var sites: [Site]
        if let site {
            let (loaded, found) = try SiteOptions(hierarchy: hierarchy, site: site, labDirectory: labDirectory).load()
            model = loaded
            sites = [found]
        } else {
            model = try loadHierarchy(hierarchy)
            sites = try lab.deployment(for: model, transport: .folder).initializedSites
            guard !sites.isEmpty else {
                throw CommandFailure.badInput(
                    "no site of \(hierarchy) has a site server folder in \(lab.sitesDirectory.path); create them with:"
                        + " siteloc site init --hierarchy \(hierarchy) --site CODE"
                )
            }
        }
        let deployment = try lab.deployment(for: model, transport: transport)
        let servers = try siteServers(sites, in: deployment) { settings in
            settings.retryDelay = retryDelay.map { .milliseconds(Int($0 * 1000)) }
            settings.pollInterval = .milliseconds(Int(pollInterval * 1000))
            settings.secureKeyExchange = !noSecureKeyExchange
        }
        for server in servers {
            print("site server \(server.settings.site) running in \(server.folders.root.path) (pid \(getpid()))")
        }
        fflush(nil)
        // Beside each site server, its site systems' management point and distribution point services, each host
        // on a port of its own, recorded in the lab so that clients find them.
        let systems = try siteSystemServers(sites.map(\.code), in: deployment) { system, site, url in
            do {
                try lab.record(system, of: site.code, url: url)
            } catch {
                Logger.siteloc.error("\(error)")
            }
            let roles = system.roles.filter { $0 == .managementPoint || $0 == .distributionPoint }.map(\.rawValue)
            print("\(system.host) (\(site.code) \(roles.joined(separator: ", "))) listening at \(url)")
            if system.roles.contains(.managementPoint) {
                print("status page of \(site.code): \(url.appendingPathComponent("siteloc/status").absoluteString)")
            }
            // Said at once even into a pipe or a file: whoever started the server waits for it.
            fflush(nil)
        }
        defer { for system in systems { lab.forgetSystem(system.system.host) } }
        let services =
            servers.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
            + systems.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        var configuration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: .siteloc
        )
        // Open downloads get a few seconds to finish; then they are cancelled and their connections closed.
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        configuration.maximumCancellationDuration = .seconds(10)
        try await ServiceGroup(configuration: configuration).run()
    }
}

struct SiteStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Shows each site server: running or not, jobs waiting and their progress, rejected jobs, packages."
    )

    @Option(help: "Only this site.")
    var site: String?

    @Option(help: "The hierarchy file: adds, per package, which sites below should hold it and which hold its version.")
    var hierarchy: String?

    @Option(name: .customLong("dir"), help: "The lab folder.")
    var labDirectory: String = Lab.defaultDirectory

    @Flag(help: "Print the result as JSON.")
    var json = false

    /// A site server's status with, when the hierarchy is given, its package status view.
    struct Report: Encodable {
        var status: SiteStatus
        var packageStatus: [PackageStatusSummary]?

        func encode(to encoder: any Encoder) throws {
            try status.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encodeIfPresent(packageStatus, forKey: .packageStatus)
        }

        enum Keys: String, CodingKey { case packageStatus }
    }

    func run() throws {
        let model = try hierarchy.map(loadHierarchy)
        let sitesDirectory = Lab(directory: labDirectory, logger: .siteloc).sitesDirectory
        var statuses = SiteStatus.all(in: sitesDirectory)
        if let site {
            statuses = statuses.filter { $0.site == site.uppercased() }
            guard !statuses.isEmpty else {
                throw CommandFailure.badInput(
                    "no site server folder for '\(site)' in \(sitesDirectory.path); create one with: siteloc site init"
                )
            }
        }
        let reports = statuses.map { status in
            Report(status: status, packageStatus: model.map { PackageStatusSummary.make(status, hierarchy: $0) })
        }
        if json {
            try printJSON(reports)
            return
        }
        if statuses.isEmpty { print("no site servers in \(sitesDirectory.path); create one with: siteloc site init") }
        for report in reports {
            let status = report.status
            print(
                "\(status.site)  \(status.running ? "running (pid \(status.pid.map(String.init) ?? "?"))" : "stopped")"
                    + "  key \(status.publicKeyFingerprint ?? "none")  inbox \(status.inbox)  outbox \(status.outbox.count)"
                    + "  applied \(status.applied)  forwarded \(status.forwarded)  rejected \(status.rejected.count)"
            )
            for job in status.outbox {
                var line = "    job \(job.id) → \(job.destination) via \(job.state.nextHop ?? "?"): \(job.state.status)"
                if let total = job.state.totalBytes, total > 0 {
                    line += String(format: " (%.0f%%)", Double(job.state.sentBytes) * 100 / Double(total))
                }
                print(line)
            }
            for rejected in status.rejected {
                print("    rejected \(rejected.file): \(rejected.code): \(rejected.reason)")
            }
            for package in status.packages {
                print(
                    "    package \(package.package) \(package.version.prefix(19))… placed on "
                        + (package.distributionPoints.isEmpty
                            ? "no distribution point" : package.distributionPoints.joined(separator: ", "))
                )
            }
            for summary in report.packageStatus ?? [] {
                print(
                    "    package \(summary.package) \(summary.version.map { "\($0.prefix(19))…" } ?? "(no version known)"):"
                        + " installed at \(summary.installed) of \(summary.sites.count) sites below"
                )
                for site in summary.sites where !site.current {
                    print(
                        "      \(site.site): "
                            + (site.version.map { "still \($0.prefix(19))…" } ?? "nothing reported yet")
                    )
                }
            }
            if report.packageStatus != nil { continue }
            for (package, reports) in Dictionary(grouping: status.below, by: \.package).sorted(by: { $0.key < $1.key })
            {
                print("    package \(package) reported by \(reports.count) site(s) below:")
                for report in reports {
                    print(
                        "      \(report.site)  \(report.version.prefix(19))…  on "
                            + (report.distributionPoints.isEmpty
                                ? "no distribution point" : report.distributionPoints.joined(separator: ", "))
                            + "  placed \(ISO8601DateFormatter().string(from: report.placedAt))"
                    )
                }
            }
        }
    }
}

/// The HTTP services of the site systems of `sites`, with the process's metrics.
func siteSystemServers(
    _ sites: [SiteCode],
    in deployment: Deployment,
    onListening: @escaping @Sendable (SiteSystem, Site, URL) async -> Void
) throws -> [SiteSystemServer] {
    try deployment.siteSystemServers(sites, metrics: ProcessMetrics.exposition, onListening: onListening)
}

/// The site servers of `sites` in a deployment, copying large jobs with smbclient where it is installed.
func siteServers(
    _ sites: [Site],
    in deployment: Deployment,
    configure: (inout SiteServerSettings) -> Void = { _ in }
) throws -> [SiteServer] {
    try deployment.siteServers(sites.map(\.code)) { settings in
        settings.smbclient = SMBClientProgram.installed
        configure(&settings)
    }
}
