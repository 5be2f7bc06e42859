import BlockingWork
import Foundation
import Logging
import SiteDatabase
import SiteModel
import SiteRouting
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension SiteServer {
    // MARK: Inbox

    /// Verifies, then applies or forwards, each whole job in the inbox, oldest name first. Public so tests and
    /// benchmarks can drive a server one step at a time. Returns how many jobs it took.
    @discardableResult
    public func processInbox() async -> Int {
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
            return unfinished.count + claimed.count
        }
    }

    /// Moves each whole job out of the inbox into `work/` before it is read: a neighbour can replace a file in its
    /// share at any time, but not one that is no longer there, so the bytes checked are the bytes used.
    func claimInbox() -> [URL] {
        folders.files(in: folders.inbox, suffix: JobFile.suffix).compactMap { file in
            let claimed = folders.work.appendingPathComponent(file.lastPathComponent)
            // A name still in work/ is left for the next pass rather than replaced.
            guard !FileManager.default.fileExists(atPath: claimed.path) else { return nil }
            return rename(file.path, claimed.path) == 0 ? claimed : nil
        }
    }

    func process(_ file: URL) async throws(SiteServerError) {
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
            throw error as? SiteServerError
                ?? SiteServerError("cannot handle job \(header.id): \(error)", kind: .internalError)
        }
        unlink(file.path)
    }

    func reject(_ file: URL, _ rejection: JobRejection) throws(SiteServerError) {
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
    func apply(_ job: JobFile) throws {
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
    func record(_ job: JobFile) async throws {
        var status = try PackageStatusJob.read(job, hierarchy: settings.hierarchy)
        status.created = try await verifiedCreation(of: status)
        let recorded: Bool
        do { recorded = try database.record(status) } catch {
            throw SiteServerError(error.description, kind: .internalError)
        }
        events.record(
            recorded ? "status" : "status-old",
            job: job.header,
            detail: "\(status.site) holds \(status.package) \(status.version.prefix(19))… on "
                + (status.distributionPoints.isEmpty
                    ? "no distribution point" : status.distributionPoints.joined(separator: ", "))
                + (recorded ? "" : "; a newer status is already recorded")
        )
    }

    /// Queues this site's status for a placement to its parent (nothing at the top of the hierarchy), carrying the
    /// source's signed word for the version from the package job that placed it.
    func reportStatus(_ placement: PackagePlacement, placedBy job: JobHeader) throws(SiteServerError) {
        guard let source = PackageStatusJob.source(of: job) else {
            throw SiteServerError(
                "job \(job.id) placed \(placement.package) without its origin's signature",
                kind: .internalError
            )
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
    func forward(_ job: JobFile, originVerified: Bool) throws(SiteServerError) {
        var header = job.header
        header.signer = site.code
        header.originVerified = originVerified
        let onward = try JobFile.encodedHeader(header, signedBy: key)
        let forwarded: Bool
        do {
            forwarded = try database.markForwarded(job.header.id, header: onward, signer: job.header.signer.rawValue)
        } catch {
            throw SiteServerError(error.description, kind: .internalError)
        }
        if forwarded {
            events.record("forwarded", job: job.header, detail: "re-signed by \(site.code) into the outbox")
        }
        try moveToOutbox(job.url, id: job.header.id)
    }

    /// Moves a forwarded job's file into the outbox under its id, unless a job of that id is there already (then
    /// the copy is dropped). A hard link and an unlink, not a rename: rename would replace an outbox job.
    func moveToOutbox(_ file: URL, id: String) throws(SiteServerError) {
        let outgoing = folders.outbox.appendingPathComponent(id + "." + JobFile.suffix)
        guard link(file.path, outgoing.path) == 0 || errno == EEXIST else {
            throw SiteServerError(
                "cannot move job \(id) into the outbox: \(String(cString: strerror(errno)))",
                kind: .internalError
            )
        }
        unlink(file.path)
    }

    /// Records the job as handled here: the idempotence key. In the site database, which survives a kill at any
    /// moment; after a power cut a lost record means one more (idempotent) apply, or a duplicate copy that the next
    /// site drops by its own record.
    func markDone(_ header: JobHeader, action: String) throws(SiteServerError) -> Bool {
        do {
            return try database.markHandled(header.id, action: action, signer: header.signer.rawValue)
        } catch {
            throw SiteServerError(error.description, kind: .internalError)
        }
    }
}
