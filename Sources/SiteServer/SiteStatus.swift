public import Foundation
public import SiteDatabase
import SiteModel

/// What `siteloc site status` shows for one site server.
public struct SiteStatus: Sendable, Encodable {
    public struct OutgoingJob: Sendable, Encodable {
        public var id: String
        public var package: String
        public var destination: String
        public var state: OutboxState
    }

    public struct RejectedJob: Sendable, Encodable {
        public var file: String
        public var code: String
        public var reason: String
    }

    public var site: String
    public var folder: String
    public var running: Bool
    public var pid: Int32?
    public var heartbeat: Date?
    public var publicKeyFingerprint: String?
    public var inbox: Int
    public var outbox: [OutgoingJob]
    public var rejected: [RejectedJob]
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
        inbox = folders.files(in: folders.inbox, suffix: JobFile.suffix).count
        outbox = folders.files(in: folders.outbox, suffix: JobFile.suffix).compactMap { file in
            guard let header = try? JobFile.read(file).header else { return nil }
            return OutgoingJob(
                id: header.id,
                package: header.package,
                destination: header.destination.rawValue,
                state: OutboxState.read(folders, header.id)
            )
        }
        rejected = folders.files(in: folders.rejected, suffix: JobFile.suffix).map { file in
            let reason = RegularFile.contents(of: URL(fileURLWithPath: file.path + ".reason.json"))
                .flatMap { try? JSONDecoder().decode(JobRejection.self, from: $0) }
            return RejectedJob(
                file: file.lastPathComponent,
                code: reason?.code.rawValue ?? "unknown",
                reason: reason?.message ?? "(no reason recorded)"
            )
        }
        let database = try? folders.openDatabase(readOnly: true)
        packages = database.map { ContentLibrary(folders: folders, database: $0).placements() } ?? []
        below = (try? database?.statuses()) ?? []
        let events = SiteEvent.read(folders)
        applied = events.count { $0.event == "applied" }
        forwarded = events.count { $0.event == "forwarded" }
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
