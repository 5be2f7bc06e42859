import Foundation
import SiteModel
import SiteServer
import Testing

/// Waits on site servers by what they report, not by sleeping or polling their folders.
enum SiteServerWaits {
    /// Returns once `condition` holds, checking it when the servers (running in this process) report something:
    /// each event and each `idle` that ends a pass which did work. Records an issue when `timeout` passes first.
    static func until(
        _ what: String,
        watching servers: [SiteServer],
        timeout: Duration = .seconds(30),
        _ condition: () throws -> Bool
    ) async throws {
        // Subscribed before the first check, so that nothing that changes the answer can go unreported.
        let (reports, reported) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let watchers = servers.map { server in
            let events = server.activity.stream()
            return Task {
                for await _ in events { reported.yield() }
            }
        }
        let deadline = Task {
            try? await Task.sleep(for: timeout)
            reported.finish()
        }
        defer {
            for watcher in watchers { watcher.cancel() }
            deadline.cancel()
        }
        if try condition() { return }
        for await _ in reports {
            if try condition() { return }
        }
        Issue.record("timed out after \(timeout) waiting until \(what)")
    }

    /// Whether the site servers running as processes under `sites` (a lab's `sites/` folder) have all settled: each
    /// says it is idle, and no job waits in an inbox, is being worked on, or is due in an outbox. A job waiting for a
    /// retry later does not count.
    static func settled(_ sites: URL, _ codes: [String]) -> Bool {
        codes.allSatisfy { code in
            guard let site = try? SiteCode(code) else { return false }
            let folders = SiteFolders(site: site, sitesDirectory: sites)
            guard let state = SiteServerState.read(folders), state.pid != nil, state.idleSince != nil else {
                return false
            }
            let waiting = [folders.inbox, folders.work].contains { folder in
                ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).contains {
                    $0.hasSuffix(JobFile.suffix)
                }
            }
            let due = SiteStatus(folders: folders).outbox.contains { ($0.state.nextAttempt ?? .distantPast) <= Date() }
            return !waiting && !due
        }
    }
}
