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
    // MARK: Outbox

    /// The outbox jobs that may go now, oldest first, with their next hop: not being delivered already and past
    /// their next attempt. A job file never changes once in the outbox, so each header is read once.
    func dueJobs() -> [(job: JobFile, next: SiteCode)] {
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
    func read(outbox file: URL) -> (job: JobFile, next: SiteCode?)? {
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
    /// Starts what is due within the limits; returns how many deliveries it started.
    @discardableResult
    func startDeliveries(in group: inout DiscardingTaskGroup) -> Int {
        let limits = site.senderSettings
        var started = 0
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
            started += 1
            group.addTask {
                await self.deliver(job, to: next)
                _ = self.running.withLock { $0.removeValue(forKey: id) }
            }
        }
        return started
    }

    /// One delivery attempt of a job to the next hop, choosing the address by schedule and priority, with retries
    /// and substitution of failed addresses recorded in the job's state.
    func deliver(_ job: JobFile, to next: SiteCode) async {
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
            policy.afterNoAttempt(&state, because: refusal, at: Date())
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
            policy.afterNoAttempt(&state, because: "\(failure.code.rawValue): \(failure.message)", at: Date())
            state.write(folders, header.id)
            return
        case .exhausted:
            events.record(
                "retrying",
                job: header,
                detail: "every address to \(next) failed; starting over after the retry delay"
            )
            policy.afterEveryAddressFailed(&state, to: next, at: Date())
            state.write(folders, header.id)
            return
        }
        state.address = "\(address.sender.rawValue) priority \(address.priority)"
        state.status = "sending to \(next) by \(address.sender.rawValue)"
        state.totalBytes = (try? FileManager.default.attributesOfItem(atPath: job.url.path)[.size] as? Int64) ?? nil
        state.sentBytes = 0
        // Written only once the delivery has taken a while: most jobs are gone before anyone could look.
        let sending = state
        let progressFolders = folders
        let lastWrite = Mutex(ContinuousClock.now - .milliseconds(400))
        do {
            let delivery = JobDelivery(
                job: job,
                header: onward,
                next: next,
                server: settings.hierarchy.site(next)?.server ?? "",
                address: address
            ) { sent in
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
            let target = try await senders.deliver(delivery)
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
            metrics.delivery(to: next, sender: address.sender, outcome: "failed", bytes: nil)
            let attempts = state.attempts
            policy.afterFailure(&state, on: address, error, at: Date())
            if state.attempts > attempts { metrics.retry(to: next, sender: address.sender) }
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

    /// The site's retry rules, with the settings' retry delay where one overrides the file's.
    var policy: DeliveryPolicy {
        let delay =
            settings.retryDelay.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
            ?? Double(site.senderSettings.retryDelayMinutes) * 60
        return DeliveryPolicy(retries: site.senderSettings.retries, retryDelay: delay)
    }
}
