import DirectoryServing
import Foundation
import Glibc
import LDAPKit
import SiteDirectory
import SiteModel
import Testing

@testable import SiteLab

/// `lab up` reuses a running lab, recovers from a slapd that died (stale pid file and socket), keeps the data
/// across down/up, and `down` waits for every slapd to end.
@Suite(.timeLimit(.minutes(2))) struct LabLifecycle {
    @Test func reuseRestartAfterACrashAndKeepData() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "siteloc-lifecycle-\(UUID().uuidString)"
        )
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        let fabrikam = try ForestName("fabrikam.com")
        let first = try await lab.up(forests: [TestLab.forest, fabrikam])
        #expect(first.count == 2 && first.allSatisfy { !$0.reused })
        #expect(Set(first.map(\.forest.port)).count == 2)
        let permissions =
            try FileManager.default.attributesOfItem(atPath: first[0].forest.passwordFile)[.posixPermissions] as? Int
        #expect(permissions == 0o600)

        let again = try await lab.up(forests: [TestLab.forest])
        #expect(again.count == 2 && again.allSatisfy(\.reused))

        let admin = try await lab.connect(to: TestLab.forest, as: .admin)
        let marker = TestLab.layout.systemManagement.child("cn", "survives-restarts")
        try await admin.add(
            marker,
            attributes: [LDAPAttribute("objectClass", "container"), LDAPAttribute("cn", "survives-restarts")]
        )
        await admin.close()

        guard let crashed = first.first(where: { $0.forest.name == TestLab.forest })?.forest.pid else { return }
        kill(crashed, SIGKILL)
        while ProcessControl.isAlive(crashed) { try await Task.sleep(for: .milliseconds(5)) }
        let status = await lab.status()
        #expect(status.first { $0.forest.name == TestLab.forest }?.running == false)

        let recovered = try await lab.up(forests: [])
        #expect(recovered.first { $0.forest.name == TestLab.forest }?.reused == false)
        #expect(recovered.first { $0.forest.name == fabrikam }?.reused == true)

        let stopped = try await lab.down()
        #expect(stopped.count == 2)
        for forest in stopped { #expect(!ProcessControl.isAlive(forest.pid ?? 0)) }
        #expect(await lab.status().allSatisfy { !$0.running })

        try await lab.up(forests: [TestLab.forest])
        let reader = try await lab.connect(to: TestLab.forest, as: .anonymous)
        #expect(try await reader.search(base: marker, scope: .base).count == 1)
        await reader.close()
        try await lab.down()
    }

    /// A server that dies under open connections (TCP and ldapi) gives errors, and closing them afterwards is quiet:
    /// nothing ends the process (a SIGPIPE from a write to the dead socket would end this test's process too).
    @Test func aDirectoryThatDiesUnderAConnectionGivesErrorsNotASignal() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-dies-\(UUID().uuidString)")
        let lab = Lab(directory: folder.path, logger: TestLab.logger)
        defer { try? FileManager.default.removeItem(at: folder) }
        let started = try await lab.up(forests: [TestLab.forest])
        // Over TCP and over the ldapi socket (where the first write after the server is gone fails at once).
        let tcp = try await lab.connect(to: TestLab.forest, as: .anonymous)
        let socket = try await lab.connect(to: TestLab.forest, as: .localOwner)
        for connection in [tcp, socket] {
            #expect(try await connection.search(base: .root, scope: .base).count == 1)
        }
        guard let pid = started.first?.forest.pid else {
            Issue.record("the lab recorded no pid")
            return
        }
        kill(pid, SIGKILL)
        while ProcessControl.isAlive(pid) { try await Task.sleep(for: .milliseconds(5)) }
        for connection in [tcp, socket] {
            for _ in 0..<3 {
                await #expect(throws: LDAPError.self) {
                    try await connection.search(base: .root, scope: .base)
                }
            }
            await connection.close()
        }
        // Closing unbinds: a write to a socket nobody reads any more.
        let unread = try await lab.up(forests: [TestLab.forest])
        let late = try await lab.connect(to: TestLab.forest, as: .localOwner)
        if let again = unread.first?.forest.pid { kill(again, SIGKILL) }
        while unread.first?.forest.pid.map(ProcessControl.isAlive) == true {
            try await Task.sleep(for: .milliseconds(5))
        }
        await late.close()
        _ = try? await lab.down()
    }
}
