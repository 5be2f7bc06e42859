import BlockingWork
import Foundation
public import Logging
public import ServiceLifecycle
public import SiteDatabase
import SiteModel
import SiteRouting
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A site server (docs/site-communication.md, "The site server"): verifies and applies or forwards what arrives in its
/// inbox, and delivers its outbox to the next hop through the chosen address, within the site's rate and
/// concurrency limits. Every step is a rename or an exclusive create, so killing it at any moment loses nothing,
/// applies nothing twice and never reads half a job.
public final class SiteServer: Service {
    public let settings: SiteServerSettings
    public let folders: SiteFolders
    let site: Site
    let key: SiteSigningKey
    let planner: RoutePlanner
    let events: EventLog
    /// What this server reports as it works (``SiteServerEvents``).
    public let activity = SiteServerEvents()
    let metrics: SiteServerMetrics
    let logger: Logger
    /// Jobs being delivered right now, by job id, with their next hop.
    let running = Mutex<[String: SiteCode]>([:])
    /// Delivered jobs whose bytes are still being freed on a blocking thread (``discard(_:bytes:)``).
    let discarding = Mutex(0)
    /// Outbox jobs already read, by file path, with their next hop (nil: no path).
    let outboxJobs = Mutex<[String: (job: JobFile, next: SiteCode?)]>([:])
    /// Neighbours' keys read from the directory, so a busy link does not cost a directory search per job.
    let directoryKeyCache = Mutex<[SiteCode: SitePublicKey]>([:])
    /// When the directory last could not be asked for a site's key: for a while after, the imported key file answers
    /// alone, so an unreachable directory costs one timeout per site and minute, not one per job.
    let directoryKeyMisses = Mutex<[SiteCode: ContinuousClock.Instant]>([:])
    static let directoryMissLifetime = Duration.seconds(60)
    let lockDescriptor: Int32
    /// The senders this server delivers with, by address type.
    let senders: JobSenders
    /// The site's own database, open for the server's whole life.
    public let database: SiteDatabase

    public init(settings: SiteServerSettings, logger: Logger) throws(SiteServerError) {
        guard let site = settings.hierarchy.site(settings.site) else {
            throw SiteServerError("site \(settings.site) is not in the hierarchy")
        }
        self.settings = settings
        self.site = site
        self.logger = logger
        folders = SiteFolders(site: settings.site, sitesDirectory: settings.sitesDirectory)
        guard folders.isInitialized else {
            throw SiteServerError(
                "site \(settings.site) has no site server folder with a key in \(folders.root.path);"
                    + " create it with: siteloc site init --site \(settings.site)"
            )
        }
        key = try SiteSigningKey(contentsOf: folders.signingKey)
        try folders.create()
        guard let database = try folders.openDatabase() else {
            throw SiteServerError("cannot open the site database of \(settings.site)", kind: .internalError)
        }
        self.database = database
        planner = RoutePlanner(hierarchy: settings.hierarchy, calendar: settings.calendar)
        senders = JobSenders(settings: settings, folders: folders)
        metrics = SiteServerMetrics(site: site.code.rawValue)
        events = EventLog(file: folders.events, metrics: metrics, subscribers: activity)
        lockDescriptor = open(folders.lock.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockDescriptor >= 0, flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = SiteServerState.read(folders)?.pid
            if lockDescriptor >= 0 { close(lockDescriptor) }
            throw SiteServerError(
                "the site server of \(settings.site) is already running\(holder.map { " (pid \($0))" } ?? "");"
                    + " stop it first, or check it with: siteloc site status --site \(settings.site)"
            )
        }
    }

    deinit {
        close(lockDescriptor)
    }

    /// Runs until shutdown. All of it runs on the blocking executor: inbox files are someone else's and every step
    /// is file I/O, which must not hold one of the few cooperative threads (with `site run --all`, those of every
    /// other site server).
    public func run() async throws {
        await withBlockingWork { await self.serve() }
    }

    func serve() async {
        let started = Date()
        if !settings.secureKeyExchange {
            logger.warning("secure key exchange is off: unsigned jobs are accepted", metadata: ["site": "\(site.code)"])
        }
        removeHalfStoredContent()
        removeDiscardedJobs()
        logger.info("site server started", metadata: ["site": "\(site.code)", "folder": "\(folders.root.path)"])
        events.record("started", detail: "pid \(getpid())")
        for neighbour in settings.hierarchy.sites where settings.hierarchy.areNeighbours(neighbour.code, site.code) {
            if let refusal = crossForestRefusal(neighbour.code) { logger.error("\(refusal)") }
        }
        // A discarding group: a finished delivery's task is gone at once instead of being kept until shutdown.
        await withDiscardingTaskGroup { group in
            var lastHeartbeat = ContinuousClock.now - .seconds(1)
            var work = WorkState()
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                // A pass waiting on a directory ends when shutdown begins; what it had not finished stays in the
                // inbox for the next start.
                let processed = await cancelWhenGracefulShutdown { await self.processInbox() }
                let delivering = startDeliveries(in: &group)
                let busy = processed > 0 || delivering > 0 || running.withLock { !$0.isEmpty }
                let now = Date()
                let changed = work.pass(didWork: busy, at: now)
                if changed, let idleSince = work.idleSince {
                    activity.publish(SiteEvent(["at": RecordCoding.string(idleSince), "event": SiteServerEvents.idle]))
                }
                if changed || ContinuousClock.now - lastHeartbeat >= .seconds(1) {
                    SiteServerState(pid: getpid(), started: started, heartbeat: now, idleSince: work.idleSince)
                        .write(folders)
                    lastHeartbeat = .now
                }
                try? await Task.sleep(for: settings.pollInterval)
            }
            // Deliveries in flight stop between blocks; their jobs stay in the outbox for the next start.
            group.cancelAll()
        }
        SiteServerState(pid: nil, started: started, heartbeat: Date()).write(folders)
        events.record("stopped")
        activity.finish()
        logger.info("site server stopped", metadata: ["site": "\(site.code)"])
    }

    /// Removes what a kill left while content was being stored (hidden `.tmp` files in `content/<package>/`): the
    /// job that was storing it is still in `work/` and stores it again. `siteloc send package` stores content at
    /// the source site too, from another process and at any time, so a file still being written is left alone:
    /// its writer holds a lock on it (``ContentLibrary/place``), which the kernel releases when the writer dies.
    func removeHalfStoredContent() {
        let packages = (try? FileManager.default.contentsOfDirectory(atPath: folders.content.path)) ?? []
        for package in packages {
            let folder = folders.content.appendingPathComponent(package)
            guard RegularFile.isRealDirectory(folder) else { continue }
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            where name.hasPrefix(".") && name.hasSuffix(".tmp") {
                let path = folder.appendingPathComponent(name).path
                let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                guard descriptor >= 0 else { continue }
                defer { close(descriptor) }
                if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { unlink(path) }
            }
        }
    }

    /// Removes delivered jobs a kill left before their bytes were freed (hidden `.sent.` files in the outbox).
    func removeDiscardedJobs() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folders.outbox.path)) ?? []
        where name.hasPrefix(Self.discardedPrefix) {
            unlink(folders.outbox.appendingPathComponent(name).path)
        }
    }

    static let discardedPrefix = ".sent."
    /// From this size on a delivered job is freed behind its delivery; a smaller one is unlinked at once, in less
    /// time than a hand-off to another thread takes.
    static let freedBehindFrom: Int64 = 8 << 20

    /// Takes a delivered job out of the outbox. A large one is renamed away at once and unlinked on a blocking
    /// thread: freeing a 200 MB job on tmpfs took 29 ms, a tenth of the hop it ended, and neither the record of
    /// the delivery nor the next job need wait for it. A kill in between leaves a hidden file, removed at the next
    /// start.
    func discard(_ job: URL, bytes: Int64?) {
        guard let bytes, bytes >= Self.freedBehindFrom else {
            unlink(job.path)
            return
        }
        let sent = folders.outbox.appendingPathComponent(Self.discardedPrefix + job.lastPathComponent)
        guard rename(job.path, sent.path) == 0 else {
            unlink(job.path)
            return
        }
        discarding.withLock { $0 += 1 }
        Task.detached {
            await withBlockingWork { _ = unlink(sent.path) }
            self.discarding.withLock { $0 -= 1 }
        }
    }

    /// Waits until the bytes of every job this server delivered are freed: a benchmark's hop leaves nothing
    /// running behind it.
    public func settle() async {
        while discarding.withLock({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(1)) }
    }

    /// Runs `servers` while `body` runs, then stops them and waits until they have: a caller's scope, not tasks left
    /// behind (for the demo and tests, which drive servers in their own process).
    public static func running<T: Sendable>(
        _ servers: [SiteServer],
        _ body: () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for server in servers { group.addTask { try await server.run() } }
            do {
                let result = try await body()
                group.cancelAll()
                try await group.waitForAll()
                return result
            } catch {
                group.cancelAll()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// One pass of the server's work without its loop: the inbox, then every due outbox job delivered one after
    /// the other. Returns whether there was anything to do. For benchmarks and tests that drive many servers in
    /// one process.
    @discardableResult
    public func runOnce() async -> Bool {
        await withBlockingWork {
            let arrived =
                !folders.files(in: folders.inbox, suffix: JobFile.suffix).isEmpty
                || !folders.files(in: folders.work, suffix: JobFile.suffix).isEmpty
            await processInbox()
            let due = dueJobs()
            for (job, next) in due { await deliver(job, to: next) }
            return arrived || !due.isEmpty
        }
    }

}
