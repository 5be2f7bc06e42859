import BlockingWork
public import Foundation
public import Logging
public import SMBKit
public import ServiceLifecycle
public import SiteDatabase
public import SiteModel
import SiteRouting
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the directory says of a site's key.
public enum DirectoryKeyAnswer: Sendable {
    case key(SitePublicKey)
    /// The directory answered: the site has published no key.
    case absent
    /// The directory could not be asked (unreachable, silent, refused, cut short).
    case unreachable
}

/// Where a site server finds other sites' public keys: the directory when both sites are in one forest, else key
/// files imported by hand.
public typealias DirectoryKeyLookup = @Sendable (_ site: SiteCode) async -> DirectoryKeyAnswer

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

/// A site server (docs/site-communication.md, "The site server"): verifies and applies or forwards what arrives in its
/// inbox, and delivers its outbox to the next hop through the chosen address, within the site's rate and
/// concurrency limits. Every step is a rename or an exclusive create, so killing it at any moment loses nothing,
/// applies nothing twice and never reads half a job.
public final class SiteServer: Service {
    public let settings: SiteServerSettings
    public let folders: SiteFolders
    private let site: Site
    private let key: SiteSigningKey
    private let planner: RoutePlanner
    private let events: EventLog
    private let metrics: SiteServerMetrics
    private let logger: Logger
    /// Jobs being delivered right now, by job id, with their next hop.
    private let running = Mutex<[String: SiteCode]>([:])
    /// Delivered jobs whose bytes are still being freed on a blocking thread (``discard(_:bytes:)``).
    private let discarding = Mutex(0)
    /// Outbox jobs already read, by file path, with their next hop (nil: no path).
    private let outboxJobs = Mutex<[String: (job: JobFile, next: SiteCode?)]>([:])
    /// Neighbours' keys read from the directory, so a busy link does not cost a directory search per job.
    private let directoryKeyCache = Mutex<[SiteCode: SitePublicKey]>([:])
    /// When the directory last could not be asked for a site's key: for a while after, the imported key file answers
    /// alone, so an unreachable directory costs one timeout per site and minute, not one per job.
    private let directoryKeyMisses = Mutex<[SiteCode: ContinuousClock.Instant]>([:])
    static let directoryMissLifetime = Duration.seconds(60)
    private let lockDescriptor: Int32
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
            throw SiteServerError("cannot open the site database of \(settings.site)")
        }
        self.database = database
        planner = RoutePlanner(hierarchy: settings.hierarchy, calendar: settings.calendar)
        metrics = SiteServerMetrics(site: site.code.rawValue)
        events = EventLog(file: folders.events, metrics: metrics)
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

    private func serve() async {
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
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                // A pass waiting on a directory ends when shutdown begins; what it had not finished stays in the
                // inbox for the next start.
                await cancelWhenGracefulShutdown { await self.processInbox() }
                startDeliveries(in: &group)
                if ContinuousClock.now - lastHeartbeat >= .seconds(1) {
                    SiteServerState(pid: getpid(), started: started, heartbeat: Date()).write(folders)
                    lastHeartbeat = .now
                }
                try? await Task.sleep(for: settings.pollInterval)
            }
            // Deliveries in flight stop between blocks; their jobs stay in the outbox for the next start.
            group.cancelAll()
        }
        SiteServerState(pid: nil, started: started, heartbeat: Date()).write(folders)
        events.record("stopped")
        logger.info("site server stopped", metadata: ["site": "\(site.code)"])
    }

    /// Removes what a kill left while content was being stored (hidden `.tmp` files in `content/<package>/`): the
    /// job that was storing it is still in `work/` and stores it again. `siteloc send package` stores content at
    /// the source site too, from another process and at any time, so a file still being written is left alone:
    /// its writer holds a lock on it (``ContentLibrary/place``), which the kernel releases when the writer dies.
    private func removeHalfStoredContent() {
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
    private func removeDiscardedJobs() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folders.outbox.path)) ?? []
        where name.hasPrefix(Self.discardedPrefix) {
            unlink(folders.outbox.appendingPathComponent(name).path)
        }
    }

    private static let discardedPrefix = ".sent."
    /// From this size on a delivered job is freed behind its delivery; a smaller one is unlinked at once, in less
    /// time than a hand-off to another thread takes.
    private static let freedBehindFrom: Int64 = 8 << 20

    /// Takes a delivered job out of the outbox. A large one is renamed away at once and unlinked on a blocking
    /// thread: freeing a 200 MB job on tmpfs took 29 ms, a tenth of the hop it ended, and neither the record of
    /// the delivery nor the next job need wait for it. A kill in between leaves a hidden file, removed at the next
    /// start.
    private func discard(_ job: URL, bytes: Int64?) {
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

    // MARK: Inbox

    /// Verifies, then applies or forwards, each whole job in the inbox, oldest name first. Public so tests and
    /// benchmarks can drive a server one step at a time.
    public func processInbox() async {
        await withBlockingWork {
            // What an earlier pass took and did not finish (a kill, a shutdown), then what arrived since.
            let unfinished = folders.files(in: folders.work, suffix: JobFile.suffix)
            let claimed = claimInbox()
            for _ in claimed { metrics.received() }
            for file in unfinished + claimed {
                do {
                    try await process(file)
                } catch {
                    logger.error(
                        "cannot process a job",
                        metadata: ["file": "\(file.lastPathComponent)", "error": "\(error)"]
                    )
                }
            }
        }
    }

    /// Moves each whole job out of the inbox into `work/` before it is read: a neighbour can replace a file in its
    /// share at any time, but not one that is no longer there, so the bytes checked are the bytes used.
    private func claimInbox() -> [URL] {
        folders.files(in: folders.inbox, suffix: JobFile.suffix).compactMap { file in
            let claimed = folders.work.appendingPathComponent(file.lastPathComponent)
            // A name still in work/ is left for the next pass rather than replaced.
            guard !FileManager.default.fileExists(atPath: claimed.path) else { return nil }
            return rename(file.path, claimed.path) == 0 ? claimed : nil
        }
    }

    private func process(_ file: URL) async throws(SiteServerError) {
        let job: JobFile
        let originVerified: Bool
        do {
            job = try JobFile.read(file)
            originVerified = try await verify(job)
        } catch let rejection {
            // A check cut short by shutdown proves nothing: the job stays for the next start.
            if Task.isCancelled { return }
            try reject(file, rejection)
            return
        }
        let header = job.header
        if (try? database.isHandled(header.id)) == true {
            if header.destination != site.code, (try? database.forwardedHeader(header.id)) ?? nil != nil {
                // Forwarded, but killed before the copy moved into the outbox: finish moving it.
                try moveToOutbox(file, id: header.id)
                return
            }
            events.record("duplicate", job: header, detail: "already handled here; the copy is dropped")
            unlink(file.path)
            return
        }
        do {
            if header.kind == .status { try await record(job) }
            if header.destination == site.code {
                if header.kind == .package {
                    try apply(job)
                } else if try markDone(header, action: "recorded") {
                    events.record("recorded", job: header, detail: "package status of \(header.origin)")
                }
            } else {
                // The copy itself moves on: nothing is left to remove.
                return try forward(job, originVerified: originVerified)
            }
        } catch let rejection as JobRejection {
            try reject(file, rejection)
            return
        } catch {
            throw error as? SiteServerError ?? SiteServerError("cannot handle job \(header.id): \(error)")
        }
        unlink(file.path)
    }

    /// Checks the hop (neighbour, signature, payload) and the origin (docs/site-communication.md, "Origin
    /// authenticity"). Returns whether the origin's signature is known to be good: checked here, or vouched for by
    /// the neighbour that signed this copy.
    private func verify(_ job: JobFile) async throws(JobRejection) -> Bool {
        let header = job.header
        let signer = header.signer
        guard let sender = settings.hierarchy.site(signer) else {
            throw JobRejection(.notNeighbour, "comes from \(signer), which is not a site of the hierarchy")
        }
        guard settings.hierarchy.areNeighbours(sender.code, site.code) else {
            throw JobRejection(
                .notNeighbour,
                "comes from \(signer), which is neither the parent nor a child of \(site.code);"
                    + " sites talk only to their neighbours"
            )
        }
        guard settings.hierarchy.site(header.destination) != nil else {
            throw JobRejection(
                .unknownDestination,
                "is for \(header.destination), which is not a site of the hierarchy"
            )
        }
        guard let package = settings.hierarchy.package(header.package) else {
            throw JobRejection(
                .unknownPackage,
                "carries package \(header.package), which the hierarchy does not list"
            )
        }
        if job.signature == nil, !settings.secureKeyExchange {
            logger.warning("accepting an unsigned job: secure key exchange is off", metadata: ["job": "\(header.id)"])
            try job.verifyPayload()
            return try await verifyOrigin(header, package: package, from: sender) || header.originVerified
        }
        guard job.signature != nil else {
            throw JobRejection(.unsigned, "is not signed; secure key exchange requires every job to be signed")
        }
        guard let key = await siteKey(of: signer) else {
            throw JobRejection(
                .unknownKey,
                "is signed by \(signer), whose key this site does not hold: "
                    + (sender.forest == site.forest
                        ? "publish \(signer) with its key (siteloc site init, then siteloc publish) or import it"
                        : "\(signer) is in another forest; exchange keys with siteloc keys export / siteloc keys import")
            )
        }
        var signerKey = key
        do {
            try job.verify(with: key)
        } catch {
            guard error.code == .badSignature, let fresh = await siteKey(of: signer, refresh: true), fresh != key else {
                throw error
            }
            try job.verify(with: fresh)
            signerKey = fresh
        }
        let verifiedHere = try await verifyOrigin(header, package: package, from: sender, signerKey: signerKey)
        // The neighbour's word counts only because its own signature, just verified, covers it.
        let verified = verifiedHere || header.originVerified
        // The destination uses what it receives, and so does every site a status passes: each records it.
        if header.destination == site.code || header.kind == .status, !verified {
            throw JobRejection(
                .badOrigin,
                "says it comes from \(header.origin), whose key this site does not hold, and \(signer) did not vouch"
                    + " for its origin signature; import \(header.origin)'s key with siteloc keys import"
            )
        }
        return verified
    }

    /// The origin rules: a package comes from its source site, through a neighbour on the way from there, signed
    /// by the origin. Returns whether the origin signature was checked here (false when the origin's key cannot be
    /// had here).
    /// `signerKey`, the key that just verified the hop, serves when the origin handed the job over itself (every
    /// first hop), so the key is not looked up twice.
    private func verifyOrigin(
        _ header: JobHeader,
        package: Package,
        from sender: Site,
        signerKey: SitePublicKey? = nil
    ) async throws(JobRejection) -> Bool {
        let origin = header.origin
        switch header.kind {
        case .package:
            guard origin == package.sourceSite else {
                throw JobRejection(
                    .badOrigin,
                    "says it comes from \(origin), but package \(package.id) comes only from its source site"
                        + " \(package.sourceSite)"
                )
            }
        case .status:
            guard sender.parent == site.code else {
                throw JobRejection(
                    .badOrigin,
                    "is a package status that came down from \(sender.code); a status travels only up the hierarchy"
                )
            }
        }
        let hierarchy = settings.hierarchy
        if sender.parent == site.code {
            guard hierarchy.isInSubtree(origin, of: sender.code) else {
                throw JobRejection(
                    .badOrigin,
                    "came up from \(sender.code) but says it comes from \(origin), which is not below \(sender.code)"
                )
            }
        } else if hierarchy.isInSubtree(origin, of: site.code) {
            throw JobRejection(
                .badOrigin,
                "came down from \(sender.code) but says it comes from \(origin), which is this site or below it"
            )
        }
        var key = origin == header.signer ? signerKey : nil
        if key == nil { key = await siteKey(of: origin) }
        guard let key else { return false }
        guard header.hasValidOriginSignature(key) else {
            if let fresh = await siteKey(of: origin, refresh: true), fresh != key, header.hasValidOriginSignature(fresh)
            {
                return true
            }
            throw JobRejection(
                .badOrigin,
                "carries an origin signature that \(origin)'s key (\(key.fingerprint)) does not verify:"
                    + (header.originSignature == nil ? " it has none" : " not signed by \(origin), or changed since")
            )
        }
        return true
    }

    /// A site's key: from the directory when the site is in this site's forest, else (or when the directory has
    /// none, e.g. a site that does not publish) from a key file imported by hand.
    /// `refresh` skips the cache: for a signature the cached key does not verify (the site may have a new key).
    private func siteKey(of other: SiteCode, refresh: Bool = false) async -> SitePublicKey? {
        if settings.hierarchy.site(other)?.forest == site.forest, let lookup = settings.directoryKey {
            if !refresh, let cached = directoryKeyCache.withLock({ $0[other] }) { return cached }
            let missedRecently = directoryKeyMisses.withLock { misses in
                misses[other].map { ContinuousClock.now - $0 < Self.directoryMissLifetime } ?? false
            }
            if !missedRecently {
                switch await lookup(other) {
                case .key(let key):
                    directoryKeyCache.withLock { $0[other] = key }
                    return key
                case .absent:
                    break
                case .unreachable:
                    if !Task.isCancelled { directoryKeyMisses.withLock { $0[other] = .now } }
                }
            }
        }
        return folders.importedKey(of: other)
    }

    private func reject(_ file: URL, _ rejection: JobRejection) throws(SiteServerError) {
        let header = try RejectedJobs(folders: folders).keep(file, rejection)
        try? database.countRejected()
        metrics.rejected(rejection.code)
        events.record("rejected", job: header, detail: rejection.description, file: file.lastPathComponent)
        logger.warning(
            "job rejected",
            metadata: [
                "file": "\(file.lastPathComponent)", "reason": "\(rejection.code.rawValue)",
                "why": "\(rejection.message)",
            ]
        )
    }

    /// Stores the package and places it on this site's distribution points, then records the job as done. If the
    /// server dies in between, the next start places the same content again (no visible change) and records it.
    /// A version this site already holds is not placed again; an older one is refused (`stale`).
    private func apply(_ job: JobFile) throws {
        let header = job.header
        guard let package = settings.hierarchy.package(header.package) else { return }
        let library = ContentLibrary(folders: folders, database: database)
        if let current = library.placement(package.id) {
            if current.sha256 == header.payloadSHA256 {
                // Placed by this very job before a crash cut it short: its status may not have been queued yet.
                if current.job == header.id { try reportStatus(current, placedBy: header) }
                if try markDone(header, action: "already-held") {
                    events.record("duplicate", job: header, detail: "this version is already placed here")
                }
                return
            }
            if JobHeader.milliseconds(current.created) >= JobHeader.milliseconds(header.created) {
                throw JobRejection(
                    .stale,
                    "carries a version of \(package.id) created \(RecordCoding.string(header.created)), not newer than"
                        + " the one placed here (created \(RecordCoding.string(current.created))); a version never goes"
                        + " backwards"
                )
            }
        }
        let placement = try library.place(
            package,
            in: settings.hierarchy,
            from: job.url,
            offset: job.payloadOffset,
            job: header.id,
            created: header.created
        )
        try reportStatus(placement, placedBy: header)
        if try markDone(header, action: "applied") {
            events.record(
                "applied",
                job: header,
                detail: "placed on \(placement.distributionPoints.joined(separator: ", "))"
            )
            logger.info("package arrived", metadata: ["job": "\(header.id)", "package": "\(package.id)"])
        }
    }

    /// Records the package status a status job carries, unless a newer one for that site and package is here.
    /// The version must be one the package's source site signed, placed no earlier than the source created it and
    /// not in the future: a site below says where a version is, never which version is current.
    private func record(_ job: JobFile) async throws {
        var status = try PackageStatusJob.read(job, hierarchy: settings.hierarchy)
        status.created = try await verifiedCreation(of: status)
        let recorded: Bool
        do { recorded = try database.record(status) } catch { throw SiteServerError(error.description) }
        events.record(
            recorded ? "status" : "status-old",
            job: job.header,
            detail: "\(status.site) holds \(status.package) \(status.version.prefix(19))… on "
                + (status.distributionPoints.isEmpty
                    ? "no distribution point" : status.distributionPoints.joined(separator: ", "))
                + (recorded ? "" : "; a newer status is already recorded")
        )
    }

    /// When the package's source site created the version a status names, from the source's own signature.
    private func verifiedCreation(of status: PackageStatus) async throws(JobRejection) -> Date {
        guard let package = settings.hierarchy.package(status.package),
            let header = PackageStatusJob.sourceHeader(of: status, from: package.sourceSite)
        else {
            throw JobRejection(
                .badOrigin,
                "has a status of \(status.package) without its source site's signed word for the version"
            )
        }
        let sourceKey = package.sourceSite == site.code ? key.publicKey : await siteKey(of: package.sourceSite)
        guard let sourceKey else {
            if !settings.secureKeyExchange {
                logger.warning(
                    "accepting a status whose version cannot be checked: secure key exchange is off",
                    metadata: ["package": "\(package.id)", "site": "\(status.site)"]
                )
                return header.created
            }
            throw JobRejection(
                .unknownKey,
                "reports a version of \(package.id), whose source site \(package.sourceSite)'s key this site does not"
                    + " hold to check it; import it with siteloc keys import"
            )
        }
        guard header.hasValidOriginSignature(sourceKey) else {
            throw JobRejection(
                .badOrigin,
                "reports version \(status.version.prefix(19))… of \(package.id), which \(package.sourceSite) did not"
                    + " sign: a site below says where a version is, never which one"
            )
        }
        let skew: TimeInterval = 300
        guard status.placedAt.timeIntervalSinceNow <= skew, status.placedAt >= header.created.addingTimeInterval(-skew)
        else {
            throw JobRejection(
                .badOrigin,
                "says it placed \(package.id) at \(RecordCoding.string(status.placedAt)), which is in the future or"
                    + " before \(package.sourceSite) created the version (\(RecordCoding.string(header.created)))"
            )
        }
        return header.created
    }

    /// Queues this site's status for a placement to its parent (nothing at the top of the hierarchy), carrying the
    /// source's signed word for the version from the package job that placed it.
    private func reportStatus(_ placement: PackagePlacement, placedBy job: JobHeader) throws(SiteServerError) {
        guard let source = PackageStatusJob.source(of: job) else {
            throw SiteServerError("job \(job.id) placed \(placement.package) without its origin's signature")
        }
        try PackageStatusJob.queue(
            placement,
            of: site.code,
            source: source,
            id: PackageStatusJob.jobID(placedBy: job.id, package: placement.package, site: site.code),
            hierarchy: settings.hierarchy,
            folders: folders,
            key: key
        )
    }

    /// Forwards the job: the copy that arrived moves into the outbox as it is, and the header it goes on with —
    /// re-signed by this site, saying whether the origin was verified — is recorded with the job's handled record,
    /// in one transaction. The payload is neither copied nor written again on the way through a site.
    private func forward(_ job: JobFile, originVerified: Bool) throws(SiteServerError) {
        var header = job.header
        header.signer = site.code
        header.originVerified = originVerified
        let onward = try JobFile.encodedHeader(header, signedBy: key)
        let forwarded: Bool
        do {
            forwarded = try database.markForwarded(job.header.id, header: onward, signer: job.header.signer.rawValue)
        } catch {
            throw SiteServerError(error.description)
        }
        if forwarded {
            events.record("forwarded", job: job.header, detail: "re-signed by \(site.code) into the outbox")
        }
        try moveToOutbox(job.url, id: job.header.id)
    }

    /// Moves a forwarded job's file into the outbox under its id, unless a job of that id is there already (then
    /// the copy is dropped). A hard link and an unlink, not a rename: rename would replace an outbox job.
    private func moveToOutbox(_ file: URL, id: String) throws(SiteServerError) {
        let outgoing = folders.outbox.appendingPathComponent(id + "." + JobFile.suffix)
        guard link(file.path, outgoing.path) == 0 || errno == EEXIST else {
            throw SiteServerError("cannot move job \(id) into the outbox: \(String(cString: strerror(errno)))")
        }
        unlink(file.path)
    }

    /// Records the job as handled here: the idempotence key. In the site database, which survives a kill at any
    /// moment; after a power cut a lost record means one more (idempotent) apply, or a duplicate copy that the next
    /// site drops by its own record.
    private func markDone(_ header: JobHeader, action: String) throws(SiteServerError) -> Bool {
        do {
            return try database.markHandled(header.id, action: action, signer: header.signer.rawValue)
        } catch {
            throw SiteServerError(error.description)
        }
    }

    // MARK: Outbox

    /// The outbox jobs that may go now, oldest first, with their next hop: not being delivered already and past
    /// their next attempt. A job file never changes once in the outbox, so each header is read once.
    private func dueJobs() -> [(job: JobFile, next: SiteCode)] {
        let files = folders.files(in: folders.outbox, suffix: JobFile.suffix)
        let busy = running.withLock { Set($0.keys) }
        let present = Set(files.map(\.path))
        let known = outboxJobs.withLock { cache in
            cache = cache.filter { present.contains($0.key) }
            return cache
        }
        var due: [(JobFile, SiteCode)] = []
        let now = Date()
        for file in files {
            guard let entry = known[file.path] ?? read(outbox: file) else { continue }
            guard let next = entry.next else { continue }
            let id = entry.job.header.id
            if busy.contains(id) { continue }
            if let time = OutboxState.read(folders, id).nextAttempt, time > now { continue }
            due.append((entry.job, next))
        }
        return due
    }

    /// Reads an outbox job and its next hop into the cache; a job with no path is marked undeliverable.
    private func read(outbox file: URL) -> (job: JobFile, next: SiteCode?)? {
        guard let job = try? JobFile.read(file) else { return nil }
        let path = planner.path(from: site.code, to: job.header.destination)
        let next = path.flatMap { $0.count > 1 ? $0[1] : nil }
        if next == nil {
            OutboxState.update(folders, job.header.id) {
                $0.status = "undeliverable: no path to \(job.header.destination)"
            }
        }
        outboxJobs.withLock { $0[file.path] = (job, next) }
        return (job, next)
    }

    /// Starts deliveries for the due outbox jobs, within the site's concurrency limits.
    private func startDeliveries(in group: inout DiscardingTaskGroup) {
        let limits = site.senderSettings
        for (job, next) in dueJobs() {
            let id = job.header.id
            let admitted = running.withLock { running -> Bool in
                guard running.count < limits.maxConcurrentAllSites,
                    running.values.count(where: { $0 == next }) < limits.maxConcurrentPerSite
                else { return false }
                running[id] = next
                return true
            }
            guard admitted else { continue }
            group.addTask {
                await self.deliver(job, to: next)
                _ = self.running.withLock { $0.removeValue(forKey: id) }
            }
        }
    }

    /// One delivery attempt of a job to the next hop, choosing the address by schedule and priority, with retries
    /// and substitution of failed addresses recorded in the job's state.
    private func deliver(_ job: JobFile, to next: SiteCode) async {
        let header = job.header
        // A forwarded job goes on with the header recorded when it was forwarded. Without that record (a database
        // that lost its last transactions) the job is checked again from the start.
        var onward: Data?
        if header.signer != site.code {
            guard let recorded = (try? database.forwardedHeader(header.id)) ?? nil else {
                let again = folders.work.appendingPathComponent(job.url.lastPathComponent)
                if rename(job.url.path, again.path) == 0 {
                    events.record("recheck", job: header, detail: "no onward header recorded; checking it again")
                }
                return
            }
            onward = recorded
        }
        var state = OutboxState.read(folders, header.id)
        state.nextHop = next.rawValue
        let choice = AddressChoice.choose(
            planner: planner,
            from: site.code,
            to: next,
            priority: header.priority,
            at: Date(),
            failed: Set(state.failedAddresses)
        )
        // A link into another forest cannot take keys from the directory: it carries nothing until they have been
        // exchanged by hand (docs/trust-rules.md).
        if let refusal = crossForestRefusal(next) {
            if state.status != refusal {
                events.record("link-refused", job: header, detail: refusal)
                logger.error("link refused", metadata: ["job": "\(header.id)", "to": "\(next)", "why": "\(refusal)"])
            }
            state.status = refusal
            state.nextAttempt = Date().addingTimeInterval(retryDelaySeconds)
            state.write(folders, header.id)
            return
        }
        let address: Address
        switch choice {
        case .use(let chosen):
            address = chosen
        case .waitUntil(let time):
            state.status =
                "waiting for an open address until \(LocalTime.string(from: time, in: settings.calendar.timeZone))"
            state.nextAttempt = time
            state.write(folders, header.id)
            return
        case .failed(let failure):
            state.status = "\(failure.code.rawValue): \(failure.message)"
            state.nextAttempt = Date().addingTimeInterval(retryDelaySeconds)
            state.write(folders, header.id)
            return
        case .exhausted:
            events.record(
                "retrying",
                job: header,
                detail: "every address to \(next) failed; starting over after the retry delay"
            )
            state.failedAddresses = []
            state.attempts = 0
            state.status = "every address to \(next) failed; starting over"
            state.nextAttempt = Date().addingTimeInterval(retryDelaySeconds)
            state.write(folders, header.id)
            return
        }
        state.address = "\(address.sender.rawValue) priority \(address.priority)"
        state.status = "sending to \(next) by \(address.sender.rawValue)"
        state.totalBytes = (try? FileManager.default.attributesOfItem(atPath: job.url.path)[.size] as? Int64) ?? nil
        state.sentBytes = 0
        // Written only once the delivery has taken a while: most jobs are gone before anyone could look.
        let sending = state
        let carrier = JobCarrier(
            sending: site.code,
            folders: folders,
            resolveInbox: settings.resolveInbox,
            calendar: settings.calendar,
            smbclient: settings.smbclient
        )
        let progressFolders = folders
        let lastWrite = Mutex(ContinuousClock.now - .milliseconds(400))
        do {
            let server = settings.hierarchy.site(next)?.server ?? ""
            let target = try await carrier.deliver(job, header: onward, to: next, server: server, via: address) {
                sent in
                let due = lastWrite.withLock { last -> Bool in
                    guard ContinuousClock.now - last > .milliseconds(500) else { return false }
                    last = ContinuousClock.now
                    return true
                }
                if due {
                    var progress = sending
                    progress.sentBytes = sent
                    progress.write(progressFolders, header.id)
                }
            }
            discard(job.url, bytes: sending.totalBytes)
            if onward != nil { try? database.removeForwardedHeader(header.id) }
            OutboxState.remove(folders, header.id)
            metrics.delivery(to: next, sender: address.sender, outcome: "delivered", bytes: sending.totalBytes)
            events.record("delivered", job: header, detail: "to \(next) by \(address.sender.rawValue) into \(target)")
            logger.info("job delivered", metadata: ["job": "\(header.id)", "to": "\(next)"])
        } catch is CancellationError {
            OutboxState.update(folders, header.id) {
                $0 = sending
                $0.sentBytes = 0
                $0.status = "interrupted; resumes when the server starts again"
            }
        } catch {
            let failure = error as? DeliveryFailure
            metrics.delivery(to: next, sender: address.sender, outcome: "failed", bytes: nil)
            state.lastError = "\(error)"
            if failure?.kind == .senderNotInstalled {
                state.failedAddresses.append(address.priority)
                state.attempts = 0
                state.nextAttempt = nil
                state.status = "sender-not-installed for \(address.sender.rawValue); trying the next address"
            } else if state.attempts < site.senderSettings.retries {
                state.attempts += 1
                metrics.retry(to: next, sender: address.sender)
                state.nextAttempt = Date().addingTimeInterval(retryDelaySeconds)
                state.status = "delivery failed; retry \(state.attempts) of \(site.senderSettings.retries)"
            } else {
                state.failedAddresses.append(address.priority)
                state.attempts = 0
                state.nextAttempt = nil
                state.status = "address priority \(address.priority) failed after its retries; substituting"
            }
            state.write(folders, header.id)
            events.record("delivery-failed", job: header, detail: "\(address.sender.rawValue) to \(next): \(error)")
            logger.warning("delivery failed", metadata: ["job": "\(header.id)", "to": "\(next)", "error": "\(error)"])
        }
    }

    /// Why the link to `next` may not carry jobs: it crosses a forest boundary and `next`'s key was never
    /// imported here (`siteloc keys import`), so the exchange by hand has not happened.
    func crossForestRefusal(_ next: SiteCode) -> String? {
        guard let neighbour = settings.hierarchy.site(next), neighbour.forest != site.forest,
            folders.importedKey(of: next) == nil
        else { return nil }
        return "link refused: \(site.code) → \(next) crosses from \(site.forest) into \(neighbour.forest) and keys have"
            + " not been exchanged; run siteloc keys export --site \(next) there and siteloc keys import --site"
            + " \(site.code) --file … here (and the other way)"
    }

    private var retryDelaySeconds: TimeInterval {
        if let delay = settings.retryDelay {
            return Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        }
        return Double(site.senderSettings.retryDelayMinutes) * 60
    }
}

/// The address a delivery uses (docs/site-communication.md, steps 1–4), given the addresses that already failed.
enum AddressChoice {
    case use(Address)
    case waitUntil(Date)
    case failed(RouteFailure)
    /// Every open address failed (or may not substitute).
    case exhausted

    static func choose(
        planner: RoutePlanner,
        from sending: SiteCode,
        to next: SiteCode,
        priority: JobPriority,
        at time: Date,
        failed: Set<Int>
    ) -> AddressChoice {
        switch planner.hop(from: sending, to: next, priority: priority, at: time) {
        case .failure(let failure):
            return .failed(failure)
        case .success(let hop):
            if let until = hop.waitUntil { return .waitUntil(until) }
        }
        let hour = planner.hourOfWeek(time)
        let open = (planner.hierarchy.site(sending)?.addresses ?? [])
            .filter { $0.to == next && RoutePlanner.admits($0, priority, hourOfWeek: hour) }
            .sorted { $0.priority < $1.priority }
        if failed.isEmpty, let first = open.first { return .use(first) }
        // After a failure the next open address substitutes, unless it is marked unavailable to substitute.
        if let substitute = open.first(where: { !failed.contains($0.priority) && !$0.unavailableToSubstitute }) {
            return .use(substitute)
        }
        return .exhausted
    }
}
