public import Foundation
public import SiteDatabase
public import SiteModel

/// What `siteloc site status` shows for one site server.
public struct SiteStatus: Sendable, Encodable {
    public struct OutgoingJob: Sendable, Encodable {
        public var id: String
        public var package: String
        public var destination: String
        public var state: OutboxState
    }

    public typealias RejectedJob = RejectedJobs.Entry

    public var site: String
    public var folder: String
    public var running: Bool
    public var pid: Int32?
    public var heartbeat: Date?
    public var publicKeyFingerprint: String?
    public var inbox: Int
    public var outbox: [OutgoingJob]
    /// The newest refused jobs kept in `rejected/` (at most `RejectedJobs.kept`), newest first.
    public var rejected: [RejectedJob]
    /// Every job refused since the site database was created.
    public var rejectedTotal: Int
    public var packages: [PackagePlacement]
    /// The package status the sites below reported, by package then site: what this site knows of them.
    public var below: [PackageStatus]
    public var applied: Int
    public var forwarded: Int

    public init(folders: SiteFolders) {
        site = folders.site.rawValue
        folder = folders.root.path
        running = SiteServerState.isRunning(folders)
        let state = SiteServerState.read(folders)
        pid = running ? state?.pid : nil
        heartbeat = state?.heartbeat
        publicKeyFingerprint = folders.readPublicKey()?.fingerprint
        inbox =
            folders.files(in: folders.inbox, suffix: JobFile.suffix).count
            + folders.files(in: folders.work, suffix: JobFile.suffix).count
        outbox = folders.files(in: folders.outbox, suffix: JobFile.suffix).compactMap { file in
            guard let header = try? JobFile.read(file).header else { return nil }
            return OutgoingJob(
                id: header.id,
                package: header.package,
                destination: header.destination.rawValue,
                state: OutboxState.read(folders, header.id)
            )
        }
        rejected = RejectedJobs(folders: folders).entries()
        let database = try? folders.openDatabase(readOnly: true)
        packages = database.map { ContentLibrary(folders: folders, database: $0).placements() } ?? []
        below = (try? database?.statuses()) ?? []
        // Counted in the database as they happen: the events log is never read whole for a status.
        let counts = (try? database?.jobCounts()) ?? [:]
        applied = counts["applied"] ?? 0
        forwarded = counts["forwarded"] ?? 0
        rejectedTotal = max(counts["rejected"] ?? 0, rejected.count)
    }

    /// Every site server folder under `sitesDirectory`, by site code.
    public static func all(in sitesDirectory: URL) -> [SiteStatus] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sitesDirectory.path)) ?? []
        return names.sorted().compactMap { name in
            guard let code = try? SiteCode(name) else { return nil }
            let folders = SiteFolders(site: code, sitesDirectory: sitesDirectory)
            return folders.isInitialized ? SiteStatus(folders: folders) : nil
        }
    }
}

/// Configuration Manager's package status view for one site: per package, the version this site knows as current and
/// which of the sites below that should hold it (their distribution points are listed for the package) have
/// reported it.
public struct PackageStatusSummary: Sendable, Encodable {
    public struct SiteReport: Sendable, Encodable {
        public var site: String
        /// The version the site reported, or nil when it has reported nothing yet.
        public var version: String?
        public var distributionPoints: [String]
        public var placedAt: Date?
        /// Whether that is the current version.
        public var current: Bool
    }

    public var package: String
    /// This site's own version, else the newest a site below reported; nil when nothing is known yet.
    public var version: String?
    public var sites: [SiteReport]
    /// How many of `sites` hold the current version.
    public var installed: Int

    /// The summaries of every package some site below should hold, as `status`'s site database knows them.
    public static func make(_ status: SiteStatus, hierarchy: Hierarchy) -> [PackageStatusSummary] {
        guard let here = try? SiteCode(exactly: status.site) else { return [] }
        let below = hierarchy.sites.filter { $0.code != here && hierarchy.isInSubtree($0.code, of: here) }
        return hierarchy.packages.compactMap { package in
            let expected = below.filter { site in
                site.systems.contains {
                    $0.roles.contains(.distributionPoint) && package.distributionPoints.contains($0.host)
                }
            }
            guard !expected.isEmpty else { return nil }
            let reports = status.below.filter { $0.package == package.id }
            let version = SiteContentKnowledge.currentVersion(
                own: status.packages.first { $0.package == package.id }.map { ($0.version, $0.created) },
                reports: reports
            )
            let sites = expected.map { site -> SiteReport in
                let report = reports.first { $0.site == site.code.rawValue }
                return SiteReport(
                    site: site.code.rawValue,
                    version: report?.version,
                    distributionPoints: report?.distributionPoints ?? [],
                    placedAt: report?.placedAt,
                    current: report != nil && report?.version == version
                )
            }
            return PackageStatusSummary(
                package: package.id,
                version: version,
                sites: sites,
                installed: sites.count(where: \.current)
            )
        }
    }
}
