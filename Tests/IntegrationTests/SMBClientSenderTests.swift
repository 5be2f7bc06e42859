import Foundation
import SiteModel
import SiteServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension SiteCommunication {
    static let parallelYAML = """
        version: 1
        forests: [{name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}]
        sites:
          - {code: CEN, type: primary, forest: corp.contoso.com, server: cen-ss.corp.contoso.com,
             addresses: [{to: P01, sender: standard, priority: 1}]}
          - {code: P01, type: primary, parent: CEN, forest: corp.contoso.com, server: p01-ss.corp.contoso.com,
             systems: [{host: p01-dp.corp.contoso.com, roles: [distributionPoint]}],
             addresses: [{to: CEN, sender: standard, priority: 1}]}
        packages: [{id: CEN00001, sourceSite: CEN, distributionPoints: [p01-dp.corp.contoso.com]}]
        """

    /// A 200 MB job over the lab's smbd goes as parts at once, each from a `siteloc smb-part` helper of the
    /// sending site server. Killed (SIGKILL) while its helpers write, the server takes them with it (no writer is
    /// left on the share); started again, it delivers the job whole, and P01 applies it exactly once.
    @Test func aLargeJobTravelsInPartsAtOnceAndArrivesOnceThroughAKill() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-parts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lab = folder.appendingPathComponent("lab").path
        let hierarchy = folder.appendingPathComponent("hierarchy.yaml").path
        try Self.parallelYAML.write(toFile: hierarchy, atomically: true, encoding: .utf8)
        var servers: [String: ServerProcess] = [:]
        defer {
            for server in servers.values { server.stop() }
            CommandLine.cleanUp(["lab", "down", "--dir", lab])
            try? FileManager.default.removeItem(at: folder)
        }
        func siteloc(_ arguments: [String]) async throws {
            let run = try await CommandLine.siteloc(arguments)
            #expect(run.status == 0, "siteloc \(arguments.joined(separator: " ")): \(run.error)")
        }
        try await siteloc(["lab", "up", "--hierarchy", hierarchy, "--dir", lab])
        for site in ["CEN", "P01"] {
            try await siteloc(["site", "init", "--hierarchy", hierarchy, "--site", site, "--dir", lab])
        }
        try await siteloc(["publish", "--hierarchy", hierarchy, "--dir", lab])
        let logs = folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        servers["P01"] = try ServerProcess(site: "P01", hierarchy: hierarchy, lab: lab, logs: logs)
        servers["CEN"] = try ServerProcess(site: "CEN", hierarchy: hierarchy, lab: lab, logs: logs)

        // 200 MB that no two blocks repeat: a random MiB, each copy stamped with its number.
        let content = folder.appendingPathComponent("image.wim")
        _ = FileManager.default.createFile(atPath: content.path, contents: nil)
        let writer = try FileHandle(forWritingTo: content)
        var block = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) })
        for number in 0..<200 {
            block.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(number).bigEndian) { Data($0) })
            try writer.write(contentsOf: block)
        }
        try writer.close()
        try await siteloc([
            "send", "package", "CEN00001", "--hierarchy", hierarchy, "--dir", lab, "--content", content.path,
        ])

        let cen = try #require(servers["CEN"]).process.processIdentifier
        // Looked for every 5 ms: on a fast machine the parts are written within a fraction of a second.
        var helpers: [pid_t] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while helpers.count < 2 {
            guard ContinuousClock.now < deadline else { throw TimeoutError(what: "CEN's helpers write parts at once") }
            try await Task.sleep(for: .milliseconds(5))
            helpers = Self.children(of: cen, running: "smb-part")
        }
        servers["CEN"]?.stop(signal: SIGKILL)
        try await Self.waitUntil("the helpers die with their site server", timeout: .seconds(10)) {
            helpers.allSatisfy { kill($0, 0) != 0 }
        }
        let inbox = try FileManager.default.contentsOfDirectory(atPath: "\(lab)/sites/P01/inbox")
        #expect(!inbox.contains { $0.hasSuffix(".job") }, "the job must not look whole before it is: \(inbox)")
        servers["CEN"] = try ServerProcess(site: "CEN", hierarchy: hierarchy, lab: lab, logs: logs)

        try await Self.waitUntil("P01 has the package", timeout: .seconds(120)) {
            isPlaced("CEN00001", at: "P01", sitesDirectory: URL(fileURLWithPath: "\(lab)/sites"))
        }
        try await Task.sleep(for: .milliseconds(500))
        let applied = Self.events(lab, "P01").filter { $0["event"] == "applied" }
        #expect(applied.count == 1, "\(applied)")
        let placed = try #require(
            SiteStatus(
                folders: SiteFolders(site: SiteCode("P01"), sitesDirectory: URL(fileURLWithPath: "\(lab)/sites"))
            )
            .packages.first
        )
        let stored = URL(fileURLWithPath: "\(lab)/sites/P01/content/CEN00001/\(placed.sha256).bin")
        #expect(try Data(contentsOf: stored) == (try Data(contentsOf: content)))
        let delivered = Self.events(lab, "CEN").filter { $0["event"] == "delivered" }
        #expect(delivered.count == 1, "\(delivered)")
    }

    /// The live processes whose parent is `parent` and whose command line has `argument`.
    static func children(of parent: pid_t, running argument: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")"),
                let parentField = stat[stat.index(after: close)...].split(separator: " ").dropFirst().first,
                Int32(parentField) == parent,
                let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            return command.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
        }
    }
}
