import ArgumentParser
import Foundation
import HierarchyFile
import Logging
import SiteAssembly
import SiteDatabase
import SiteLab
import SiteLocation
import SiteModel
import SiteServer
import SiteServices
import SiteTestKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The content services against the tools users would compare them with, in the same run: `siteloc client get`
/// downloading a package from a distribution point (`siteloc site run`) against curl fetching the same file from
/// nginx; the memory of the serving process under 100 concurrent downloads; content location requests per second
/// against one management point (wrk) against a fixed answer from the same server.
struct ContentServicesBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "content",
        abstract:
            "Downloads against curl and nginx, the serving process's memory, and management point requests per second."
    )

    @Option(help: "Package size in MB.")
    var megabytes = 200

    @Option(help: "Measurements of each download; the median is reported.")
    var rounds = 3

    @Option(help: "Concurrent downloads for the memory measurement.")
    var concurrent = 100

    @Option(help: "Sites of the generated hierarchy behind the management point (20 boundaries each).")
    var sites = 1000

    @Option(help: "Seconds of wrk load per measurement.")
    var duration = 10

    @Option(help: "The siteloc executable (built beside this benchmark by default).")
    var siteloc: String?

    @Flag(help: "Only the management point's requests per second.")
    var managementPointOnly = false

    /// What the comparisons run; `make bench` installs them (scripts/install-deps.sh bench).
    static let tools = [
        "/usr/sbin/nginx": "nginx", "/usr/bin/wrk": "wrk", "/usr/bin/curl": "curl", "/usr/bin/aria2c": "aria2",
        "/usr/bin/openssl": "openssl",
    ]

    func run() async throws {
        let missing = Self.tools.filter { !FileManager.default.isExecutableFile(atPath: $0.key) }
        guard missing.isEmpty else {
            throw ValidationError(
                "siteloc-bench content compares against \(missing.keys.sorted().joined(separator: ", ")), which"
                    + " this machine lacks: run make bench (it installs them), or apt-get install "
                    + missing.values.sorted().joined(separator: " ")
            )
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-bench-content-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let executable =
            siteloc
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("siteloc").path
        if !managementPointOnly { try await downloads(folder, executable: executable) }
        try await managementPointLoad(folder)
    }

    // MARK: Downloads

    private func downloads(_ folder: URL, executable: String) async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let hierarchyFile = repository.appendingPathComponent("examples/contoso.yaml").path
        let read = HierarchyReader.read(file: hierarchyFile)
        guard read.errors.isEmpty else { throw ValidationError("\(hierarchyFile) does not validate") }
        let model = read.hierarchy
        let lab = folder.appendingPathComponent("lab")
        let p01 = SiteFolders(site: try SiteCode("P01"), sitesDirectory: lab.appendingPathComponent("sites"))
        _ = try p01.initialize()
        let content = folder.appendingPathComponent("package.bin")
        _ = FileManager.default.createFile(atPath: content.path, contents: nil)
        let handle = try FileHandle(forWritingTo: content)
        let block = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 9)) })
        for _ in 0..<megabytes { try handle.write(contentsOf: block) }
        try handle.close()
        let placement: PackagePlacement
        do {
            guard let database = try p01.openDatabase(), let package = model.package("CEN00001") else { return }
            placement = try ContentLibrary(folders: p01, database: database)
                .place(package, in: model, from: content, job: nil, created: Date())
        }
        let bytes = Double(megabytes << 20)

        // The distribution point: `siteloc site run` for P01 (its MP and DPs) in a process of its own.
        let server = try Self.start(
            executable,
            ["site", "run", "--hierarchy", hierarchyFile, "--site", "P01", "--dir", lab.path, "--transport", "folder"]
        )
        defer {
            kill(server.processIdentifier, SIGTERM)
            server.waitUntilExit()
        }
        let labRecords = Lab(directory: lab.path, logger: Logger(label: "bench"))
        var dpURL: URL?
        for _ in 0..<200 where dpURL == nil {
            dpURL = labRecords.systemURL("p01-dp.corp.contoso.com")
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let dpURL else { throw ValidationError("site run did not start its distribution point") }

        // nginx on the same file, private configuration, no daemon, no access log.
        let nginxFolder = folder.appendingPathComponent("nginx")
        try FileManager.default.createDirectory(
            at: nginxFolder.appendingPathComponent("logs"),
            withIntermediateDirectories: true
        )
        let port = try SilentListener.closedPort()
        let contentFolder = p01.package("CEN00001").path
        try """
        daemon off;
        worker_processes 1;
        pid \(nginxFolder.path)/nginx.pid;
        error_log \(nginxFolder.path)/logs/error.log;
        events { worker_connections 1024; }
        http {
            access_log off;
            sendfile on;
            server { listen 127.0.0.1:\(port); root \(contentFolder); }
        }
        """.write(to: nginxFolder.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        let nginx = try Self.start(
            "/usr/sbin/nginx",
            ["-p", nginxFolder.path, "-c", nginxFolder.appendingPathComponent("nginx.conf").path]
        )
        defer {
            kill(nginx.processIdentifier, SIGTERM)
            nginx.waitUntilExit()
        }
        let nginxURL = "http://127.0.0.1:\(port)/\(placement.sha256).bin"
        for _ in 0..<100 where (try? Self.run("/usr/bin/curl", ["-sfI", nginxURL])) == nil {
            try await Task.sleep(for: .milliseconds(50))
        }

        var curlTimes: [Double] = []
        var curlFromDPTimes: [Double] = []
        var curlCheckedTimes: [Double] = []
        var clientTimes: [Double] = []
        let dpPackageURL = dpURL.absoluteString + "/SMS_DP_SMSPKG$/CEN00001/"
        for round in 0..<rounds {
            let out = folder.appendingPathComponent("curl.out")
            curlTimes.append(try Self.timed { try Self.run("/usr/bin/curl", ["-sf", "-o", out.path, nginxURL]) })
            try? FileManager.default.removeItem(at: out)
            // The same guarantee as the client's: the bytes checked against the version's SHA-256 (OpenSSL's, which
            // uses the CPU's SHA instructions as the client's BoringSSL does; coreutils' sha256sum is 4× slower).
            curlCheckedTimes.append(
                try Self.timed {
                    try Self.run("/usr/bin/curl", ["-sf", "-o", out.path, nginxURL])
                    let sum = try Self.run("/usr/bin/openssl", ["dgst", "-sha256", "-r", out.path])
                    guard sum.hasPrefix(placement.sha256) else { throw ValidationError("openssl dgst: \(sum)") }
                }
            )
            try? FileManager.default.removeItem(at: out)
            curlFromDPTimes.append(
                try Self.timed { try Self.run("/usr/bin/curl", ["-sf", "-o", out.path, dpPackageURL]) }
            )
            try? FileManager.default.removeItem(at: out)
            let state = folder.appendingPathComponent("client-\(round)")
            clientTimes.append(
                try Self.timed {
                    try Self.run(
                        executable,
                        [
                            "client", "get", "--hierarchy", hierarchyFile, "--dir", lab.path, "--workgroup", "--ip",
                            "10.20.5.5/16", "--assigned-site", "P01", "--package", "CEN00001", "--state", state.path,
                        ]
                    )
                }
            )
            try? FileManager.default.removeItem(at: state)
        }
        let curl = median(curlTimes)
        let curlChecked = median(curlCheckedTimes)
        let curlFromDP = median(curlFromDPTimes)
        let client = median(clientTimes)
        print(
            String(
                format:
                    "download %d MB: siteloc client get from a siteloc DP %.2f s (%.0f MB/s); curl from nginx %.2f s"
                    + " (%.0f MB/s), ratio %.2f; curl from nginx then openssl dgst -sha256 %.2f s, ratio %.2f; curl from the"
                    + " siteloc DP %.2f s (%.0f MB/s)",
                megabytes,
                client,
                bytes / client / 1e6,
                curl,
                bytes / curl / 1e6,
                curl / client,
                curlChecked,
                curlChecked / client,
                curlFromDP,
                bytes / curlFromDP / 1e6
            )
        )

        // aria2c splitting the download over P01's two DPs (two host names: aria2c splits across hosts, not
        // ports) against curl from one of them.
        if let secure = labRecords.systemURL("p01-dp-secure.corp.contoso.com"), let securePort = secure.port,
            secure.scheme == "http"
        {
            let second = "http://localhost:\(securePort)/SMS_DP_SMSPKG$/CEN00001/"
            func aria2(_ urls: [String]) throws -> Double {
                var times: [Double] = []
                for _ in 0..<rounds {
                    let out = folder.appendingPathComponent("aria2.out")
                    times.append(
                        try Self.timed {
                            try Self.run(
                                "/usr/bin/aria2c",
                                [
                                    "--quiet", "--split=\(urls.count)", "--min-split-size=8M",
                                    "--max-connection-per-server=1", "--file-allocation=none", "--dir", folder.path,
                                    "--out", out.lastPathComponent,
                                ] + urls
                            )
                        }
                    )
                    try? FileManager.default.removeItem(at: out)
                }
                return median(times)
            }
            let two = try aria2([dpPackageURL, second])
            let one = try aria2([dpPackageURL])
            let fromNginx = try aria2([nginxURL])
            print(
                String(
                    format:
                        "download %d MB: aria2c over two siteloc DPs %.2f s (%.0f MB/s); aria2c from one %.2f s, ratio"
                        + " %.2f; aria2c from nginx %.2f s, ratio %.2f; curl from one DP %.2f s, ratio %.2f",
                    megabytes,
                    two,
                    bytes / two / 1e6,
                    one,
                    one / two,
                    fromNginx,
                    fromNginx / two,
                    curlFromDP,
                    curlFromDP / two
                )
            )
        }

        // Small ranges, as a client splitting a download into many pieces asks: requests per second.
        let dpRanges = try Self.wrk(dpPackageURL, script: nil, duration: duration, header: "Range: bytes=4096-8191")
        let nginxRanges = try Self.wrk(nginxURL, script: nil, duration: duration, header: "Range: bytes=4096-8191")
        print(
            String(
                format:
                    "4 KiB ranges (wrk, 2 threads, 16 connections): the siteloc DP %.0f requests/s (p50 %@, p99 %@);"
                    + " nginx %.0f/s (p50 %@, p99 %@), ratio %.2f",
                dpRanges.rate,
                dpRanges.p50,
                dpRanges.p99,
                nginxRanges.rate,
                nginxRanges.p50,
                nginxRanges.p99,
                dpRanges.rate / nginxRanges.rate
            )
        )

        // Memory of the serving process while `concurrent` clients download at once, nginx beside it.
        for (name, pid, url) in [
            (
                "siteloc site run (P01's MP and DPs)", server.processIdentifier,
                dpPackageURL
            ),
            ("nginx", nginx.processIdentifier, nginxURL),
        ] {
            let before = Self.residentKB(pid)
            var downloads: [Process] = []
            for _ in 0..<concurrent {
                downloads.append(try Self.start("/usr/bin/curl", ["-sf", "-o", "/dev/null", url]))
            }
            var peak = before
            let started = ContinuousClock.now
            while downloads.contains(where: \.isRunning) {
                peak = max(peak, Self.residentKB(pid) + Self.childrenResidentKB(pid))
                try await Task.sleep(for: .milliseconds(50))
            }
            let took = (ContinuousClock.now - started).seconds
            let failed = downloads.filter { $0.terminationStatus != 0 }.count
            print(
                String(
                    format:
                        "%@: %d concurrent downloads of %d MB in %.1f s (%d failed); resident %.0f MB before, %.0f MB at most",
                    name,
                    concurrent,
                    megabytes,
                    took,
                    failed,
                    Double(before) / 1024,
                    Double(peak) / 1024
                )
            )
        }
    }

    // MARK: Management point load

    private func managementPointLoad(_ folder: URL) async throws {
        var model = HierarchyGenerator.hierarchy(sites: sites, boundariesPerSite: 20)
        let central = model.sites[0]
        let packageID = "\(central.code)00001"
        model.packages = [
            Package(id: packageID, sourceSite: central.code, distributionPoints: model.sites.map { $0.systems[1].host })
        ]
        let sitesFolder = folder.appendingPathComponent("generated")
        let centralFolders = SiteFolders(site: central.code, sitesDirectory: sitesFolder)
        _ = try centralFolders.initialize()
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let deployment = Deployment(hierarchy: model, sitesDirectory: sitesFolder, logger: logger)
        let writer = try centralFolders.openDatabase()
        let small = folder.appendingPathComponent("small.bin")
        try Data("content".utf8).write(to: small)
        if let writer, let package = model.package(packageID) {
            _ = try ContentLibrary(folders: centralFolders, database: writer)
                .place(package, in: model, from: small, job: nil, created: Date())
        }
        let urls = URLBook()
        let servers = try deployment.siteSystemServers([central.code]) { system, _, url in urls.set(system.host, url) }
        try await withServices(servers, logger: logger) {
            var mp: URL?
            for _ in 0..<200 where mp == nil {
                mp = urls.get(central.managementPoints[0].host)
                try await Task.sleep(for: .milliseconds(20))
            }
            guard let mp else { throw ValidationError("the management point did not start") }
            // A client in the last site's first subnet: the management point weighs every boundary it knows.
            let last = model.sites[model.sites.count - 1]
            guard case .subnet(let subnet) = last.boundaries[0].value else { return }
            let address = "\(subnet.address)/\(subnet.prefixLength)"
            let script = folder.appendingPathComponent("post.lua")
            try """
            wrk.method = "POST"
            wrk.headers["Content-Type"] = "application/json"
            wrk.body = '{"package":"\(packageID)","address":"\(address)","clientMode":"mixed"}'
            """.write(to: script, atomically: true, encoding: .utf8)
            let location = try Self.wrk(
                mp.absoluteString + ContentService.contentLocationPath,
                script: script.path,
                duration: duration
            )
            // Clients spread over every subnet the management point knows: most answers are not kept yet.
            let subnets = model.sites.flatMap(\.boundaries).compactMap { boundary -> String? in
                guard case .subnet(let subnet) = boundary.value else { return nil }
                return "\"\(subnet.address)/\(subnet.prefixLength)\""
            }
            let spreadScript = folder.appendingPathComponent("spread.lua")
            try """
            local addresses = {\(subnets.joined(separator: ","))}
            local count = 0
            request = function()
                count = count + 1
                local address = addresses[(count * 7919) % #addresses + 1]
                local body = '{"package":"\(packageID)","address":"' .. address .. '","clientMode":"mixed"}'
                return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
            end
            """.write(to: spreadScript, atomically: true, encoding: .utf8)
            let spread = try Self.wrk(
                mp.absoluteString + ContentService.contentLocationPath,
                script: spreadScript.path,
                duration: duration
            )
            let ceiling = try Self.wrk(mp.absoluteString + "/siteloc/v1/health", script: nil, duration: duration)
            print(
                String(
                    format:
                        "management point, %d sites × 20 boundaries: content location %.0f requests/s (p50 %@, p99 %@);"
                        + " clients spread over %d subnets %.0f requests/s (p50 %@, p99 %@); fixed answer on the same"
                        + " server %.0f requests/s (p50 %@, p99 %@); ratios %.2f and %.2f",
                    sites,
                    location.rate,
                    location.p50,
                    location.p99,
                    subnets.count,
                    spread.rate,
                    spread.p50,
                    spread.p99,
                    ceiling.rate,
                    ceiling.p50,
                    ceiling.p99,
                    location.rate / ceiling.rate,
                    spread.rate / ceiling.rate
                )
            )
        }
        _ = writer
    }

    // MARK: Tools

    /// wrk on `url`: 32 connections, or 16 with a `header` (a DP admits at most 32 connections from one address).
    static func wrk(
        _ url: String,
        script: String?,
        duration: Int,
        header: String? = nil
    ) throws -> (rate: Double, p50: String, p99: String) {
        var arguments = ["-t2", header == nil ? "-c32" : "-c16", "-d\(duration)s", "--latency"]
        if let script { arguments += ["-s", script] }
        if let header { arguments += ["-H", header] }
        let output = try run("/usr/bin/wrk", arguments + [url])
        func field(_ prefix: String) -> String {
            output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix) }
                .map {
                    String($0.trimmingCharacters(in: .whitespaces).dropFirst(prefix.count)).trimmingCharacters(
                        in: .whitespaces
                    )
                }
                ?? "?"
        }
        guard output.contains("Non-2xx") == false, let rate = Double(field("Requests/sec:")) else {
            throw ValidationError("wrk: \(output)")
        }
        return (rate, field("50%"), field("99%"))
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        try runProgram(executable, arguments)
    }

    static func timed(_ body: () throws -> Void) throws -> Double {
        let started = ContinuousClock.now
        try body()
        return (ContinuousClock.now - started).seconds
    }

    static func residentKB(_ pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// nginx serves from a worker process: its memory counts too.
    static func childrenResidentKB(_ pid: pid_t) -> Int {
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { Int32($0) }.reduce(0) { $0 + residentKB($1) }
    }

    /// Starts a process with its output discarded.
    static func start(_ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// Where each host listens, as the servers report it.
final class URLBook: Sendable {
    private let urls = Mutex<[String: URL]>([:])
    func get(_ host: String) -> URL? { urls.withLock { $0[host] } }
    func set(_ host: String, _ url: URL) { urls.withLock { $0[host] = url } }
}
