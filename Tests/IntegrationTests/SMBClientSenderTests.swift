import BlockingWork
import DirectoryServing
import Foundation
import HierarchyFile
import Logging
import SMBKit
import SiteLab
import SiteModel
import SiteServer
import SiteTestKit
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension SiteCommunication {
    static let smbclientYAML = """
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

    /// A 200 MB job over the lab's smbd goes through `smbclient put`, which the sending site server starts; the
    /// lab's SMB password is on neither its command line nor in its environment. Killed (SIGKILL) while smbclient
    /// writes, the server takes it along (no writer is left on the share); started again, it delivers the job
    /// whole, and P01 applies it exactly once.
    @Test func aLargeJobTravelsThroughSmbclientAndArrivesOnceThroughAKill() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-put-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lab = folder.appendingPathComponent("lab").path
        let hierarchy = folder.appendingPathComponent("hierarchy.yaml").path
        try Self.smbclientYAML.write(toFile: hierarchy, atomically: true, encoding: .utf8)
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

        let content = try Self.distinctContent(in: folder)
        let cen = try #require(servers["CEN"]).process.processIdentifier
        let password = try #require(FileManager.default.contents(atPath: "\(lab)/smb/password"))
        let secret = Data(
            String(decoding: password, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8
        )
        #expect(secret.count >= 16)
        // Watched and killed from a thread of its own, started before the job is sent: on a fast machine smbclient
        // writes for under a second, and a watcher that waits for `send package` to be seen ending (or for a
        // cooperative thread) starts after it is gone (seen in CI: the job delivered whole, no smbclient seen).
        let watcher = WriterWatch(
            site: cen,
            writer: "smbclient",
            writingInto: URL(fileURLWithPath: "\(lab)/sites/P01/inbox"),
            secret: secret,
            within: .seconds(90)
        )
        try await siteloc([
            "send", "package", "CEN00001", "--hierarchy", hierarchy, "--dir", lab, "--content", content.path,
        ])
        let caught = await watcher.result()
        if caught.writers.isEmpty {
            Issue.record("CEN never started smbclient; its events: \(Self.events(lab, "CEN"))")
            return
        }
        for exposure in caught.exposures { Issue.record("the SMB password is in smbclient's \(exposure)") }
        servers["CEN"]?.stop(signal: SIGKILL)
        try await Self.waitUntil("smbclient dies with its site server", timeout: .seconds(10)) {
            caught.writers.allSatisfy { kill($0, 0) != 0 }
        }
        let inbox = try FileManager.default.contentsOfDirectory(atPath: "\(lab)/sites/P01/inbox")
        #expect(!inbox.contains { $0.hasSuffix(".job") }, "the job must not look whole before it is: \(inbox)")
        servers["CEN"] = try ServerProcess(site: "CEN", hierarchy: hierarchy, lab: lab, logs: logs)

        try await Self.waitUntil("P01 has the package", timeout: .seconds(120)) {
            isPlaced("CEN00001", at: "P01", sitesDirectory: URL(fileURLWithPath: "\(lab)/sites"))
        }
        try await Self.waitUntil("CEN and P01 have settled", timeout: .seconds(30)) {
            SiteServerWaits.settled(URL(fileURLWithPath: "\(lab)/sites"), Array(servers.keys))
        }
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

    /// A 200 MB job crosses an emulated WAN link (10 ms each way, 1 Gbit/s: the lab's smbd in a network
    /// namespace of its own, joined to this one by tap-link, since this machine's kernel has no netem) through
    /// smbclient, arrives with every byte it was sent with, and P01 applies it.
    @Test func aLargeJobCrossesAnEmulatedWANIntact() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-wan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = HierarchyReader.read(Self.smbclientYAML).hierarchy
        let lab = Lab(directory: folder.appendingPathComponent("lab").path, logger: Logger(label: "test"))
        let wan = try EmulatedWAN(in: folder)
        defer { wan.stop() }
        let shares = try await lab.upFileShares(
            hierarchy: model,
            placement: try LabFileShares.Placement(namespace: wan.namespace, address: wan.farAddress)
        )
        do {
            try await Self.sendAcrossTheLink(model: model, lab: lab, shares: shares, folder: folder)
        } catch {
            await lab.downFileShares()
            throw error
        }
        await lab.downFileShares()
    }

    private static func sendAcrossTheLink(
        model: Hierarchy,
        lab: Lab,
        shares: LabFileShares,
        folder: URL
    ) async throws {
        let sites = lab.sitesDirectory
        // No directory: P01 holds CEN's key as an imported key file.
        let cenKey = try SiteFolders(site: try SiteCode("CEN"), sitesDirectory: sites).initialize().key
        _ = try SiteFolders(site: try SiteCode("P01"), sitesDirectory: sites).initialize()
        let keyFile = folder.appendingPathComponent("CEN.key")
        try SiteKeyFile(site: try SiteCode("CEN"), forest: try ForestName("corp.contoso.com"), key: cenKey).encoded()
            .write(to: keyFile)
        _ = try SiteFolders(site: try SiteCode("P01"), sitesDirectory: sites).importKey(from: keyFile)
        let content = try Self.distinctContent(in: folder)
        let credentials = try shares.credentials()
        var settings = SiteServerSettings(
            site: try SiteCode("CEN"),
            hierarchy: model,
            sitesDirectory: sites,
            resolveInbox: { site, _ in
                .smb(
                    host: shares.host,
                    port: shares.port,
                    share: LabFileShares.share(of: site),
                    credentials: credentials
                )
            }
        )
        settings.smbclient = SMBClientProgram()
        let cen = try SiteServer(settings: settings, logger: Logger(label: "test"))
        let sent = try PackageSending.send("CEN00001", hierarchy: model, sitesDirectory: sites, content: content)
        let job = try #require(sent.jobs.first)
        let outbox = SiteFolders(site: try SiteCode("CEN"), sitesDirectory: sites).outbox
        let sentBytes = try Data(contentsOf: outbox.appendingPathComponent(job.id + ".job"))
        #expect(sentBytes.count > 200 << 20)
        await cen.runOnce()

        let p01 = SiteFolders(site: try SiteCode("P01"), sitesDirectory: sites)
        let arrived = try FileManager.default.contentsOfDirectory(atPath: p01.inbox.path).filter {
            $0.hasSuffix(".job")
        }
        #expect(arrived.count == 1, "\(arrived)")
        let name = try #require(arrived.first)
        #expect(try Data(contentsOf: p01.inbox.appendingPathComponent(name)) == sentBytes)
        let delivered = Self.events(lab.directory.path, "CEN").filter { $0["event"] == "delivered" }
        // The far end of the link, reached from here only across it.
        #expect(shares.host.hasPrefix("10.77."))
        #expect(delivered.count == 1 && delivered.first?["detail"]?.contains("\(shares.host):") == true, "\(delivered)")

        var p01Settings = settings
        p01Settings.site = try SiteCode("P01")
        let p01Server = try SiteServer(settings: p01Settings, logger: Logger(label: "test"))
        await p01Server.runOnce()
        #expect(isPlaced("CEN00001", at: "P01", sitesDirectory: sites))
    }

    /// `image.wim` in `folder`: 200 MB that no two blocks repeat (a random MiB, each copy stamped with its number),
    /// so that a block written at the wrong offset cannot go unnoticed.
    static func distinctContent(in folder: URL) throws -> URL {
        let content = folder.appendingPathComponent("image.wim")
        _ = FileManager.default.createFile(atPath: content.path, contents: nil)
        let writer = try FileHandle(forWritingTo: content)
        defer { try? writer.close() }
        var block = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) })
        for number in 0..<200 {
            block.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(number).bigEndian) { Data($0) })
            try writer.write(contentsOf: block)
        }
        return content
    }

    /// The live processes whose parent is `parent` and whose program (the first word of its command line) is
    /// `name`.
    /// The children of `parent` running `name`, from each of its threads' `children` list (whichever thread
    /// forked them): a few small reads, where scanning all of /proc took long enough under load to miss a child.
    static func children(of parent: pid_t, named name: String) -> [pid_t] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(parent)/task")) ?? []
        let pids = tasks.flatMap { task -> [pid_t] in
            let list = FileManager.default.contents(atPath: "/proc/\(parent)/task/\(task)/children") ?? Data()
            return String(decoding: list, as: UTF8.self).split(separator: " ").compactMap { pid_t($0) }
        }
        return pids.filter { pid in
            guard let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                let program = command.split(separator: 0).first
            else { return false }
            return String(decoding: program, as: UTF8.self) == name
        }
    }
}

extension SiteCommunication {
    /// What reaches smbclient's command line and authentication file is checked before it starts: a crafted
    /// name, user, password, host, share, port or program (anything that could end a quoted name, start a second
    /// command or a second line of the authentication file), or a job that is a link, and smbclient never runs.
    /// The honest upload does reach it, with the credentials on descriptor 3, the job on its standard input (the
    /// file from its offset, or the new header then the rest through a pipe) and no password on its command line
    /// or in its environment.
    @Test func smbclientStartsOnlyForAPlainOrder() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-order-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let job = folder.appendingPathComponent("job")
        try Data("siteloc-job 2\nheader\nbody bytes".utf8).write(to: job)
        let link = folder.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: job)
        // smbclient stands in as a program that records what it was given, then fails (so nothing is renamed).
        let seen = folder.appendingPathComponent("seen")
        let fake = folder.appendingPathComponent("smbclient")
        try """
        #!/bin/sh
        mkdir \(seen.path)
        printf '%s\\n' "$@" > \(seen.path)/arguments
        cat /proc/$$/environ > \(seen.path)/environment
        cat /dev/fd/3 > \(seen.path)/authentication
        cat > \(seen.path)/input
        echo refused by the stand-in
        exit 1
        """.write(to: fake, atomically: true, encoding: .utf8)
        chmod(fake.path, 0o755)
        let password = Array("correct horse battery".utf8)
        func upload(
            host: String = "127.0.0.1",
            port: Int = 445,
            share: String = "SMS_P01",
            user: String = "siteloc",
            password: [UInt8] = password,
            temporaryName: String = ".CEN00001.CEN.tmp",
            smbclient: String = fake.path,
            file: URL = job,
            offset: UInt64 = 0,
            prefix: Data = Data()
        ) async -> SMBError? {
            do {
                let share = try await SMBShare(
                    host: host,
                    port: port,
                    share: share,
                    credentials: SMBCredentials(user: user, password: password)
                )
                try await SMBClientUpload.upload(
                    file,
                    from: offset,
                    after: prefix,
                    to: share,
                    credentials: SMBCredentials(user: user, password: password),
                    as: "CEN00001.job",
                    temporaryName: temporaryName,
                    smbclient: SMBClientProgram(path: smbclient)
                )
                return nil
            } catch let error as SMBError {
                return error
            } catch {
                Issue.record("not an SMBError: \(error)")
                return nil
            }
        }
        let crafted: [(String, SMBError?)] = [
            ("temporary name", await upload(temporaryName: "x\"; del *; \"")),
            ("temporary name", await upload(temporaryName: "../x")),
            ("user", await upload(user: "siteloc\npassword = other")),
            ("password", await upload(password: Array("one\ntwo".utf8))),
            ("host", await upload(host: "127.0.0.1 -c ls")),
            ("share", await upload(share: "SMS_P01/../C$")),
            ("port", await upload(port: 0)),
            ("smbclient path", await upload(smbclient: "smbclient")),
            ("regular file", await upload(file: link)),
        ]
        for (problem, error) in crafted {
            #expect(error?.code == EINVAL, "\(problem): \(String(describing: error))")
            #expect(error?.description.contains(problem) == true, "\(problem): \(String(describing: error))")
        }
        #expect(!FileManager.default.fileExists(atPath: seen.path), "smbclient ran on a crafted order")

        // The honest upload reaches smbclient, which says why it failed.
        let failed = await upload(offset: 14)
        #expect(failed?.description.contains("refused by the stand-in") == true, "\(String(describing: failed))")
        let arguments = try String(contentsOf: seen.appendingPathComponent("arguments"), encoding: .utf8)
        #expect(arguments.contains("--authentication-file=/dev/fd/3"))
        #expect(arguments.contains("--command=put - \".CEN00001.CEN.tmp\""))
        let authentication = try Data(contentsOf: seen.appendingPathComponent("authentication"))
        #expect(
            authentication == Data("username = siteloc\ndomain = WORKGROUP\npassword = correct horse battery\n".utf8)
        )
        for exposed in ["arguments", "environment"] {
            let text = try Data(contentsOf: seen.appendingPathComponent(exposed))
            #expect(text.range(of: Data(password)) == nil, "the password is in smbclient's \(exposed)")
        }
        #expect(try Data(contentsOf: seen.appendingPathComponent("input")) == Data("header\nbody bytes".utf8))
        // With a new header: the header, then the file from the offset, through a pipe.
        try FileManager.default.removeItem(at: seen)
        _ = await upload(offset: 21, prefix: Data("new header\n".utf8))
        #expect(try Data(contentsOf: seen.appendingPathComponent("input")) == Data("new header\nbody bytes".utf8))
    }
}

extension SiteCommunication {
    /// Where the lab's smbd runs goes into its command line and smb.conf: a crafted namespace or address is
    /// refused with what was expected, before anything starts.
    @Test func aFileSharePlacementTakesOnlyAPlainNamespaceAndAnIPv4Address() throws {
        for namespace in [
            "", ".hidden", "../netns", "a/b", "ns\nname", "ns name", "ns;reboot", String(repeating: "n", count: 65),
        ] {
            let error = #expect(throws: LabError.self) {
                try LabFileShares.Placement(namespace: namespace, address: "10.77.0.1")
            }
            #expect(error?.description.contains("letters, digits") == true, "\(String(describing: error))")
        }
        for address in [
            "", "10.77.0", "10.77.0.256", "10.77.0.1\n[evil]", "::1", "10.77.0.1 ", "localhost", "1.2.3.4.5",
        ] {
            let error = #expect(throws: LabError.self) {
                try LabFileShares.Placement(namespace: "siteloc-wan-1", address: address)
            }
            #expect(error?.description.contains("dotted quad") == true, "\(String(describing: error))")
        }
        let placed = try LabFileShares.Placement(namespace: "siteloc-wan-1-42", address: "10.77.0.1")
        #expect(placed.namespace == "siteloc-wan-1-42" && placed.address == "10.77.0.1")
        // The lab's state file is read back through the same checks.
        let state = try JSONEncoder().encode(placed)
        #expect(try JSONDecoder().decode(LabFileShares.Placement.self, from: state) == placed)
        let crafted = Data(#"{"namespace":"siteloc-wan-1","address":"10.77.0.1\n[evil]"}"#.utf8)
        #expect(throws: LabError.self) { try JSONDecoder().decode(LabFileShares.Placement.self, from: crafted) }
    }
}

/// A thread of its own that waits (inotify) for a file to be created in `folder` — what the share's smbd does when
/// `writer`'s upload begins — then finds `writer` among `site`'s children, reads its command line and environment for
/// `secret` and kills `site` at once; no writer seen within the time limit gives none. It never waits for a
/// cooperative thread, so a loaded machine cannot make it miss a short write.
final class WriterWatch: Sendable {
    private let outcome = Mutex<(writers: [pid_t], exposures: [String])?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(site: pid_t, writer: String, writingInto folder: URL, secret: Data, within limit: Duration) {
        // Watched before the thread starts: no creation can come between the caller's next step and the watch.
        let events = inotify_init1(Int32(IN_CLOEXEC))
        inotify_add_watch(events, folder.path, UInt32(IN_CREATE))
        let thread = Thread { [self] in
            defer { close(events) }
            let deadline = ContinuousClock.now + limit
            var writers: [pid_t] = []
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while writers.isEmpty, ContinuousClock.now < deadline {
                var ready = pollfd(fd: events, events: Int16(POLLIN), revents: 0)
                let left = deadline - ContinuousClock.now
                guard poll(&ready, 1, Int32(left.components.seconds * 1_000 + 1)) > 0 else { continue }
                _ = read(events, &buffer, buffer.count)
                writers = SiteCommunication.children(of: site, named: writer)
            }
            var exposures: [String] = []
            for pid in writers {
                for exposed in ["cmdline", "environ"] {
                    let text = FileManager.default.contents(atPath: "/proc/\(pid)/\(exposed)") ?? Data()
                    if text.range(of: secret) != nil { exposures.append(exposed) }
                }
            }
            if !writers.isEmpty { kill(site, SIGKILL) }
            outcome.withLock { $0 = (writers, exposures) }
            done.signal()
        }
        thread.name = "writer-watch"
        thread.start()
    }

    /// What the watch saw, once it ends; waited for on a blocking thread.
    func result() async -> (writers: [pid_t], exposures: [String]) {
        await withBlockingWork { @concurrent in
            self.done.wait()
            return self.outcome.withLock { $0 } ?? ([], [])
        }
    }
}
