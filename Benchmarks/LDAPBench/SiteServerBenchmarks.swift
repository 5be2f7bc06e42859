import ArgumentParser
import Foundation
import HierarchyFile
import LDAPKit
import Logging
import SMBKit
import SiteAssembly
import SiteDatabase
import SiteLab
import SiteModel
import SiteServer
import SiteTestKit

/// One standard-sender hop over the lab's smbd against `smbclient put` of the same job file, in the same run.
struct SMBHopBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smb",
        abstract: "A package job over one standard-sender hop (SMB on loopback) against smbclient put of the same file."
    )

    @Option(help: "Package size in MB.")
    var megabytes = 200

    @Option(help: "Measurements of each kind; the median is reported.")
    var rounds = 3

    @Flag(help: "Measure the sender without smbclient: libsmbclient alone, one write at a time.")
    var libsmbclient = false

    @Flag(
        help: """
            Through an emulated WAN link: smbd in a network namespace of its own, joined to this one by tap \
            devices that Benchmarks/wan/tap-link.c (built with cc) carries every packet across 10 ms late each way \
            at 1 Gbit/s, since tc netem is not available here. Needs root.
            """
    )
    var wan = false

    static let yaml = """
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

    func run() async throws {
        // In memory (tmpfs) where there is one: on a disk, the writeback of the last copy's dirty pages, not the
        // protocol, decided how fast the next copy went (loopback rounds ranged from 0.3 to 1.6 GB/s).
        let memory = URL(fileURLWithPath: "/dev/shm")
        let parent =
            FileManager.default.isWritableFile(atPath: memory.path) ? memory : FileManager.default.temporaryDirectory
        let folder = parent.appendingPathComponent("siteloc-bench-smb-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = HierarchyReader.read(Self.yaml).hierarchy
        let lab = Lab(directory: folder.path, logger: Logger(label: "bench"))
        let link = wan ? try EmulatedWAN(in: folder) : nil
        defer { link?.stop() }
        let shares = try await lab.upFileShares(
            hierarchy: model,
            placement: try link.map { try LabFileShares.Placement(namespace: $0.namespace, address: $0.farAddress) }
        )
        do {
            try await measure(model: model, lab: lab, shares: shares, folder: folder)
        } catch {
            await lab.downFileShares()
            throw error
        }
        await lab.downFileShares()
    }

    private func measure(model: Hierarchy, lab: Lab, shares: LabFileShares, folder: URL) async throws {
        for site in model.sites {
            _ = try SiteFolders(site: site.code, sitesDirectory: lab.sitesDirectory).initialize()
        }
        let content = folder.appendingPathComponent("package.bin")
        _ = FileManager.default.createFile(atPath: content.path, contents: nil)
        let handle = try FileHandle(forWritingTo: content)
        let block = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        for _ in 0..<megabytes { try handle.write(contentsOf: block) }
        try handle.close()
        let credentials = try shares.credentials()
        let auth = folder.appendingPathComponent("smbclient.auth")
        let password = String(decoding: try shares.password().bytes, as: UTF8.self)
        _ = FileManager.default.createFile(
            atPath: auth.path,
            contents: Data("username = \(credentials.user)\npassword = \(password)\ndomain = WORKGROUP\n".utf8),
            attributes: [.posixPermissions: 0o600]
        )
        let p01Inbox = SiteFolders(site: try SiteCode("P01"), sitesDirectory: lab.sitesDirectory).inbox
        var settings = SiteServerSettings(
            site: try SiteCode("CEN"),
            hierarchy: model,
            sitesDirectory: lab.sitesDirectory,
            resolveInbox: { site, _ in
                .smb(
                    host: shares.host,
                    port: shares.port,
                    share: LabFileShares.share(of: site),
                    credentials: credentials
                )
            }
        )
        settings.pollInterval = .milliseconds(5)
        if !libsmbclient {
            guard let smbclient = SMBClientProgram.installed else {
                throw ValidationError("no \(SMBClientProgram.debianPath): install it with apt-get install smbclient")
            }
            settings.smbclient = smbclient
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let server = try SiteServer(settings: settings, logger: logger)
        var sender: [Double] = []
        var copyAlone: [Double] = []
        let p01Share = try await SMBShare(
            host: shares.host,
            port: shares.port,
            share: LabFileShares.share(of: try SiteCode("P01")),
            credentials: credentials
        )
        var baseline: [Double] = []
        var jobBytes = 0
        for round in 1...rounds {
            // The sender: `send package` queues a signed job; the server's delivery puts it into P01's share.
            let sent = try PackageSending.send(
                "CEN00001",
                hierarchy: model,
                sitesDirectory: lab.sitesDirectory,
                content: round == 1 ? content : nil
            )
            guard let job = sent.jobs.first else { throw ValidationError("no job was queued") }
            let jobFile = SiteFolders(site: try SiteCode("CEN"), sitesDirectory: lab.sitesDirectory).outbox
                .appendingPathComponent(job.id + ".job")
            jobBytes = (try FileManager.default.attributesOfItem(atPath: jobFile.path)[.size] as? Int) ?? 0
            let sentBytes = try Data(contentsOf: jobFile)
            let started = ContinuousClock.now
            await server.runOnce()
            sender.append(Double(jobBytes) / 1e6 / (ContinuousClock.now - started).seconds)
            // The sent job's bytes are freed behind the hop: not while smbclient puts the baseline.
            await server.settle()
            // The baseline: smbclient put of the delivered job file into the same share.
            let delivered = try FileManager.default.contentsOfDirectory(atPath: p01Inbox.path).filter {
                $0.hasSuffix(".job")
            }
            guard delivered.count == 1 else { throw ValidationError("the job did not arrive: \(delivered)") }
            let copy = folder.appendingPathComponent("copy.job")
            try? FileManager.default.removeItem(at: copy)
            try FileManager.default.moveItem(at: p01Inbox.appendingPathComponent(delivered[0]), to: copy)
            guard try Data(contentsOf: copy) == sentBytes else {
                throw ValidationError("the job arrived with other bytes than were sent")
            }
            let putStarted = ContinuousClock.now
            try runProgram(
                SMBClientProgram.debianPath,
                [
                    "//\(shares.host)/\(LabFileShares.share(of: try SiteCode("P01")))", "-p", "\(shares.port)", "-A",
                    auth.path, "-c", "put \(copy.path) baseline.job",
                ]
            )
            let putTook = ContinuousClock.now - putStarted
            baseline.append(Double(jobBytes) / 1e6 / putTook.seconds)
            // The copy alone, as the sender makes it (to the rename), without the site server's work on the job.
            let copyStarted = ContinuousClock.now
            if let smbclient = settings.smbclient {
                try await SMBClientUpload.upload(
                    copy,
                    from: 0,
                    after: Data(),
                    to: p01Share,
                    credentials: credentials,
                    as: "copy.job",
                    temporaryName: ".copy.tmp",
                    smbclient: smbclient
                )
            } else {
                try await p01Share.upload(copy, as: "copy.job", temporaryName: ".copy.tmp", blockSize: 8 << 20)
            }
            copyAlone.append(Double(jobBytes) / 1e6 / (ContinuousClock.now - copyStarted).seconds)
            try Self.empty(p01Inbox)
            print(
                String(
                    format: "round %d: sender %.0f MB/s, smbclient put %.0f MB/s, the sender's copy alone %.0f MB/s",
                    round,
                    sender.last!,
                    baseline.last!,
                    copyAlone.last!
                )
            )
        }
        let senderMedian = median(sender)
        let baselineMedian = median(baseline)
        let copyMedian = median(copyAlone)
        print(
            String(
                format: "%d MB job over one standard-sender hop (%@, %@): %.0f MB/s; smbclient put of the"
                    + " same file: %.0f MB/s; ratio %.2f (median of %d); the copy alone %.0f MB/s, ratio %.2f",
                jobBytes / 1_000_000,
                wan ? "emulated WAN, 10 ms each way, 1 Gbit/s" : "loopback",
                libsmbclient ? "libsmbclient alone" : "through smbclient",
                senderMedian,
                baselineMedian,
                senderMedian / baselineMedian,
                rounds,
                copyMedian,
                copyMedian / baselineMedian
            )
        )
    }

    static func empty(_ folder: URL) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }
}

/// How the time to route a package to every site grows with the number of sites: a tree (10 children per site),
/// every site server in this process delivering into folders, against plain copies of the same bytes along the
/// same hops (write, fsync, rename) in the same run.
struct FanOutBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Route one package from the central site to every other site, for growing hierarchies."
    )

    @Option(parsing: .upToNextOption, help: "Hierarchy sizes.")
    var sites: [Int] = [100, 1_000, 10_000]

    @Option(help: "Children per site.")
    var fanout = 10

    @Option(help: "Package size in bytes.")
    var bytes = 1024

    func run() async throws {
        // Every site server of the run holds its lock and its site database's descriptors: 10,000 of them need more
        // than a usual hard limit. Root may raise it; anyone else gets the hard limit.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        var raised = rlimit(rlim_cur: 262_144, rlim_max: max(limit.rlim_max, 262_144))
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        for count in sites { try await measure(count) }
    }

    private func measure(_ count: Int) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-bench-fanout-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = HierarchyGenerator.tree(sites: count, fanout: fanout)
        let sitesDirectory = folder.appendingPathComponent("sites")
        var keys: [SiteCode: SitePublicKey] = [:]
        for site in model.sites {
            keys[site.code] = try SiteFolders(site: site.code, sitesDirectory: sitesDirectory).initialize().key
        }
        let published = keys
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let servers = try Deployment(hierarchy: model, sitesDirectory: sitesDirectory, logger: logger)
            .siteServers(model.sites.map(\.code)) { $0.directoryKey = { published[$0].map { .key($0) } ?? .absent } }
        let content = folder.appendingPathComponent("package.bin")
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0) }).write(to: content)

        let started = ContinuousClock.now
        let sent = try PackageSending.send(
            model.packages[0].id,
            hierarchy: model,
            sitesDirectory: sitesDirectory,
            content: content
        )
        var passes = 0
        while true {
            passes += 1
            var worked = false
            for server in servers where await server.runOnce() { worked = true }
            if !worked { break }
        }
        let took = (ContinuousClock.now - started).seconds
        let arrived = model.sites.dropFirst().filter {
            !SiteStatus(folders: SiteFolders(site: $0.code, sitesDirectory: sitesDirectory)).packages.isEmpty
        }.count
        // Every site that placed the package reports it to the top: the same hops again, upwards.
        let central = SiteFolders(site: model.sites[0].code, sitesDirectory: sitesDirectory)
        let reports = SiteStatus(folders: central).below
        let reported = reports.count
        // Convergence: from a version's placement at a site to its status recorded at the top.
        let delays = reports.compactMap { report in report.receivedAt.map { $0.timeIntervalSince(report.placedAt) } }
            .sorted()
        let medianDelay = delays.isEmpty ? 0 : delays[delays.count / 2]
        let maximumDelay = delays.last ?? 0
        let hops = sent.jobs.reduce(0) { $0 + $1.route.count - 1 }

        // The baseline: the same job file copied hop by hop into folders, each copy written, flushed and renamed.
        let jobSize = Int(bytes) + 600
        let payload = Data(repeating: 0x5A, count: jobSize)
        let baselineFolder = folder.appendingPathComponent("baseline")
        for site in model.sites {
            try FileManager.default.createDirectory(
                at: baselineFolder.appendingPathComponent(site.code.rawValue),
                withIntermediateDirectories: true
            )
        }
        /// One hop of the baseline: the bytes written, flushed and renamed into the site's folder.
        func copy(_ bytes: Data, to site: String, as name: String) {
            let target = baselineFolder.appendingPathComponent("\(site)/\(name)")
            let temporary = baselineFolder.appendingPathComponent("\(site)/.\(name).tmp")
            let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            fsync(descriptor)
            close(descriptor)
            rename(temporary.path, target.path)
        }
        let status = Data(repeating: 0x33, count: 800)
        let baselineStarted = ContinuousClock.now
        for (index, job) in sent.jobs.enumerated() {
            for site in job.route.dropFirst() { copy(payload, to: site, as: "\(index).job") }
        }
        for (index, job) in sent.jobs.enumerated() {
            for site in job.route.dropLast().reversed() { copy(status, to: site, as: "\(index).status") }
        }
        let baseline = (ContinuousClock.now - baselineStarted).seconds
        print(
            String(
                format: "%6d sites: status at the top %.2f s after placement (median), %.2f s at most",
                count,
                medianDelay,
                maximumDelay
            )
        )
        print(
            String(
                format: "%6d sites: %5d jobs, %6d hops down and as many up, %d passes, arrived at %d, status of %d at"
                    + " the top: %.2f s (%.0f µs a hop); plain copies of the same hops %.2f s; ratio %.1f",
                count,
                sent.jobs.count,
                hops,
                passes,
                arrived,
                reported,
                took,
                took / Double(2 * hops) * 1e6,
                baseline,
                took / baseline
            )
        )
    }
}
