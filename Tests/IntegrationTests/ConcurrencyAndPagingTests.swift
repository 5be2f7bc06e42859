import DirectoryServing
import Foundation
import Glibc
import LDAPKit
import SiteDirectory
import SiteLab
import SiteTestKit
import Testing

extension Integration {
    @Suite struct ConcurrencyAndPaging {
        @Test func pagedSearchReturnsAll2000EntriesPastTheSizeLimit() async throws {
            try await TestLab.withScratchContainer { container, admin in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for number in 0..<2000 {
                        group.addTask {
                            try await admin.add(
                                container.child("cn", "entry-\(number)"),
                                attributes: [
                                    LDAPAttribute("objectClass", "container"), LDAPAttribute("cn", "entry-\(number)"),
                                ]
                            )
                        }
                    }
                    try await group.waitForAll()
                }
                let reader = try await TestLab.connect(as: .anonymous)
                // The lab's soft size limit is 1000, as Active Directory's MaxPageSize: unpaged, it stops there.
                await #expect(throws: LDAPError.self) {
                    _ = try await reader.search(base: container, scope: .oneLevel)
                }
                let first = try await reader.search(
                    LDAPSearchRequest(base: container, scope: .oneLevel, attributes: ["cn"], pageSize: 300)
                )
                #expect(first.entries.count == 300)
                #expect(first.nextPageCookie != nil)
                let all = try await reader.searchAllPages(
                    base: container,
                    scope: .oneLevel,
                    attributes: ["cn"],
                    pageSize: 300
                )
                #expect(all.count == 2000)
                #expect(Set(all.compactMap { $0.first("cn") }) == Set((0..<2000).map { "entry-\($0)" }))
                // The same within a session, 300 at a time.
                let names = try await reader.withSession { session in
                    try session.searchAllPages(
                        LDAPSearchRequest(base: container, scope: .oneLevel, attributes: ["cn"], pageSize: 300)
                    ).compactMap { $0.first("cn") }
                }
                #expect(names.count == 2000 && Set(names) == Set((0..<2000).map { "entry-\($0)" }))
                await reader.close()
            }
        }

        /// slapd is paused so that nothing is answered until the connection has sent as many of the 100 requests as
        /// its window allows (64: slapd closes connections with more pending than `conn_max_pending`); the rest
        /// wait in order. Then it resumes and every request gets its own answer.
        @Test func manyOperationsInFlightOnOneConnectionUpToTheWindow() async throws {
            try await TestLab.withPrivateLab { lab, forest in
                let pid = forest.pid!
                var configuration = try lab.access(for: forest, as: .anonymous).configuration()
                configuration.maxOutstandingRequests = 64
                let connection = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
                try await pause(pid)
                let answers = Task {
                    try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                        for number in 0..<100 {
                            group.addTask {
                                let filter: LDAPFilter =
                                    number % 2 == 0 ? .equal("cn", "System") : .equal("cn", "Computers")
                                let found = try await connection.search(
                                    base: TestLab.layout.suffix,
                                    filter: filter,
                                    attributes: ["cn"]
                                )
                                return (number, found.first?.first("cn"))
                            }
                        }
                        return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                    }
                }
                let deadline = ContinuousClock.now + .seconds(10)
                while connection.statistics.outstanding < 64 && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                try await Task.sleep(for: .milliseconds(50))  // time for the rest to be sent, were it allowed
                let outstanding = connection.statistics.outstanding
                kill(pid, SIGCONT)
                let results = try await answers.value
                #expect(outstanding == 64)
                #expect(connection.statistics.maxOutstanding == 64)
                #expect(results.count == 100)
                for (number, cn) in results { #expect(cn == (number % 2 == 0 ? "System" : "Computers")) }
                #expect(connection.statistics.outstanding == 0)
                await connection.close()
            }
        }

        @Test func operationTimeoutBoundsAServerThatStopsAnswering() async throws {
            try await TestLab.withPrivateLab { lab, forest in
                let pid = forest.pid!
                var configuration = try lab.access(for: forest, as: .anonymous).configuration()
                configuration.operationTimeout = .milliseconds(500)
                let connection = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
                try await pause(pid)
                let start = ContinuousClock.now
                do {
                    _ = try await connection.search(base: TestLab.layout.suffix, scope: .base)
                    Issue.record("a paused server must time out")
                } catch let error as LDAPError {
                    #expect(error.code == .timeout)
                }
                let elapsed = ContinuousClock.now - start
                kill(pid, SIGCONT)
                #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(2))
                let after = try await connection.search(base: TestLab.layout.suffix, scope: .base)
                #expect(after.count == 1, "the connection stays usable after a timed-out request")
                await connection.close()
            }
        }

        /// With slapd paused, a cancelled task gets `userCancelled` at once and its request is abandoned; a task
        /// cancelled before it asks sends nothing.
        /// A request still waiting for room in the window is taken out of the queue when its task is cancelled:
        /// it is never sent.
        @Test func aRequestWaitingForTheWindowCanBeCancelled() async throws {
            try await TestLab.withPrivateLab { lab, forest in
                var configuration = try lab.access(for: forest, as: .anonymous).configuration()
                configuration.maxOutstandingRequests = 1
                let connection = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
                try await pause(forest.pid!)
                let first = Task { try await connection.search(base: TestLab.layout.suffix, scope: .base) }
                while connection.statistics.outstanding < 1 { try await Task.sleep(for: .milliseconds(2)) }
                let waiting = Task { try await connection.search(base: TestLab.layout.suffix, scope: .base) }
                try await Task.sleep(for: .milliseconds(50))
                #expect(connection.statistics.sent == 1)
                waiting.cancel()
                do {
                    _ = try await waiting.value
                    Issue.record("a cancelled search must not return entries")
                } catch let error as LDAPError {
                    #expect(error.code == .userCancelled)
                }
                kill(forest.pid!, SIGCONT)
                #expect(try await first.value.count == 1)
                #expect(connection.statistics.sent == 1)
                #expect(try await connection.search(base: TestLab.layout.suffix, scope: .base).count == 1)
                #expect(connection.statistics.sent == 2)
                await connection.close()
            }
        }

        @Test func cancellingATaskAbandonsItsRequest() async throws {
            try await TestLab.withPrivateLab { lab, forest in
                let connection = try await LDAPConnection.connect(
                    try lab.access(for: forest, as: .anonymous).configuration(),
                    logger: TestLab.logger
                )
                try await pause(forest.pid!)
                let task = Task { try await connection.search(base: TestLab.layout.suffix, scope: .base) }
                while connection.statistics.outstanding < 1 { try await Task.sleep(for: .milliseconds(2)) }
                task.cancel()
                do {
                    _ = try await task.value
                    Issue.record("a cancelled search must not return entries")
                } catch let error as LDAPError {
                    #expect(error.code == .userCancelled)
                }
                #expect(connection.statistics.outstanding == 0)

                let before = connection.statistics.sent
                let early = Task {
                    withUnsafeCurrentTask { $0?.cancel() }
                    return try await connection.search(base: TestLab.layout.suffix, scope: .base)
                }
                await #expect(throws: LDAPError.self) { try await early.value }
                #expect(connection.statistics.sent == before)

                kill(forest.pid!, SIGCONT)
                #expect(try await connection.search(base: TestLab.layout.suffix, scope: .base).count == 1)
                await connection.close()
            }
        }
    }
}

/// Stops a process and waits until the kernel reports it stopped: SIGSTOP is delivered asynchronously, and a
/// request that arrived before it took effect could still be answered.
func pause(_ pid: pid_t) async throws {
    kill(pid, SIGSTOP)
    let deadline = ContinuousClock.now + .seconds(5)
    while ContinuousClock.now < deadline {
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"),
            stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first == "T"
        {
            return
        }
        try await Task.sleep(for: .milliseconds(1))
    }
    throw LabError("slapd \(pid) did not stop")
}
