import ArgumentParser
import BlockingWork
import CommandLineCore
import DirectorySchema
import DirectoryServing
import Foundation
import HierarchyFile
import LDAPKit
import Logging
import SiteAssembly
import SiteClient
import SiteDatabase
import SiteDirectory
import SiteLab
import SiteLocation
import SiteModel
import SiteRouting
import SiteServer
import SiteServices
import SiteTrust
import SystemCalls

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk through siteloc on a private lab started from the example hierarchy, then stop it.",
        discussion: """
            Checks the example hierarchy, brings up one directory per forest with what Active Directory would \
            hold, publishes every site with its own identity (twice: the second run changes nothing), finds sites \
            the way a roaming client does, shows a site being refused another site's objects and plans the routes \
            jobs take between sites. It grows with each capability of siteloc.
            """
    )

    @Option(help: "The hierarchy file.")
    var hierarchy: String = "examples/contoso.yaml"

    @Option(name: .customLong("dir"), help: "The lab folder for the demo.")
    var directory: String = ".siteloc/demo"

    @Flag(help: "Leave the lab running at the end.")
    var keep = false

    func run() async throws {
        let lab = Lab(directory: directory, logger: .siteloc)
        do {
            try await walkThrough(lab: lab)
        } catch {
            if !keep { _ = try? await lab.down() }
            throw error
        }
    }

    private func walkThrough(lab: Lab) async throws {
        step(1, "Read and check the hierarchy (\(hierarchy))")
        let result = HierarchyReader.read(file: hierarchy)
        guard result.errors.isEmpty else {
            throw CommandFailure.badInput(
                "\(hierarchy) does not validate; run: siteloc validate --hierarchy \(hierarchy)"
            )
        }
        let model = result.hierarchy
        let missing = Self.missing(in: model)
        guard missing.isEmpty else {
            throw CommandFailure.badInput(
                "the demo walks through the example hierarchy (examples/contoso.yaml) and needs"
                    + " \(missing.joined(separator: ", ")), which \(hierarchy) does not have; for a hierarchy of your own"
                    + " use siteloc validate, lab up, publish, locate, content and site run"
            )
        }
        say("\(model.sites.count) sites in \(model.forests.count) forests; \(result.warnings.count) warning(s):")
        for warning in result.warnings { say("  line \(warning.location.line): \(warning.message)") }
        for site in model.sites {
            let parent = site.parent.map { "child of \($0)" } ?? "central site"
            say(
                "  \(site.code)  \(site.type.rawValue), \(parent), forest \(site.forest)\(site.publish ? "" : ", does not publish")"
            )
        }

        step(2, "Start one directory per forest with what Active Directory would already hold")
        // Site servers start afresh each demo: an earlier run's packages must not show up as already there.
        try? FileManager.default.removeItem(at: lab.sitesDirectory)
        try await lab.up(hierarchy: model)
        for forest in lab.forests() where model.forest(forest.name) != nil {
            say("\(forest.name): \(forest.uri)  (functional level, trusts, one computer entry per site server)")
        }

        step(3, "Each site publishes into its forest's directory, with its own identity")
        let connector = try lab.deployment(for: model, transport: .folder).siteConnector(timeout: .seconds(10))
        for report in try await Publisher.run(model.sites, in: model, connect: connector) {
            say(
                "\(report.site)  \(report.added) added, \(report.modified) changed, \(report.deleted) deleted\(report.publishes ? "" : " (publish: false)")"
            )
        }
        let again = try await Publisher.run(model.sites, in: model, connect: connector)
        say("publishing again: \(again.allSatisfy { $0.changes.isEmpty } ? "no change for any site" : "changes?!")")

        step(4, "Clients ask the directory where they are")
        let corp = try ForestName("corp.contoso.com")
        let layout = DirectoryLayout(forest: corp)
        let reader = try await lab.connect(to: corp, as: .anonymous)
        for (address, adSite) in [
            ("10.20.4.7/16", nil), ("10.20.4.7/24", nil), ("10.21.1.9/24", nil), ("10.99.0.1/16", "Redmond-HQ"),
        ]
            as [(String, String?)]
        {
            let matches = try await BoundaryLookup.matches(
                for: try ClientAddress(address),
                adSite: adSite,
                in: layout,
                on: reader
            )
            let client = address + (adSite.map { " in AD site \($0)" } ?? "")
            let found = matches.map { "\($0.kind.rawValue) \($0.value) of site \($0.site)" }.joined(separator: ", ")
            let gap = String(repeating: " ", count: max(1, 34 - client.count))
            say(client + gap + "→ \(found.isEmpty ? "no boundary" : found)")
        }
        say("(a /24 client computes subnet ID 10.20.4.0, which is not published: Configuration Manager matches")
        say(" subnet IDs exactly, so it only matches the /16 boundary from a /16 address)")
        let roamer = try ClientAddress("10.20.4.7/24")
        if let learned = try await ADSiteLookup.site(of: roamer, in: layout, on: reader) {
            say(
                "A client not told its AD site learns it from the subnet objects, as Windows does: \(roamer) is in AD site"
            )
            say(
                "\(learned.site) (subnet object \(learned.subnet)), so it roams into the site whose boundary is adSite: \(learned.site)"
            )
        }
        await reader.close()

        step(5, "Clients roam, and ask their management point where to get Office 2007 (package CEN00001)")
        let clients: [(String, ClientProfile)] = [
            (
                "a laptop assigned to CEN, now in Paris's range",
                try demoClient("10.21.1.9/24", "CEN", .forest("corp.contoso.com"))
            ),
            ("the same laptop as a workgroup machine", try demoClient("10.21.1.9/24", "CEN", .workgroup)),
            ("a CEN laptop in Paris's subnet", try demoClient("10.20.7.7/16", "CEN", .forest("corp.contoso.com"))),
            ("a Berlin laptop (fabrikam.com) in Paris", try demoClient("10.20.7.7/16", "P02", .forest("fabrikam.com"))),
        ]
        // The deployment's locator: management points answer from their site databases once site servers ran.
        let deployment = try lab.deployment(for: model)
        let locator = deployment.locator()
        let office = try requirePackage(model, "CEN00001")
        let advertisement = model.advertisements.first { $0.package == office.id }
        for (label, client) in clients {
            let result = try await locator.content(client, package: office, advertisement: advertisement)
            let where_ =
                result.location.roaming == "global"
                ? "global, in \(result.location.roamedSite ?? "no published boundary")"
                : "regional (\(result.location.regionalReason ?? ""))"
            say("\(label): \(where_)")
            say(
                "  asks \(result.answeredBy ?? "nobody") → \(result.decision)"
                    + (result.distributionPoints.isEmpty
                        ? "" : " from \(result.distributionPoints.map(\.host).joined(separator: ", "))")
            )
        }
        say("(with the lab kept, siteloc demo --keep, trace any of them: siteloc content --hierarchy \(hierarchy) \\")
        say("   --ip 10.21.1.9/24 --assigned-site CEN --forest corp.contoso.com --package CEN00001 \\")
        say("   --advertisement CEN20001 --dir \(directory))")

        step(6, "A site may change only its own objects")
        let p01 = try requireSiteHelper(model, "P01")
        let identity = try await connector(p01)
        do {
            try await identity.modify(
                layout.site(try SiteCode("CEN")),
                [.replace(SchemaAttribute.roamingBoundaries, ["192.0.2.0"])]
            )
            say("P01 changed CEN's site object: that must not happen")
        } catch {
            say("P01 changing CEN's site object: refused (\((error as? LDAPError)?.code.description ?? "\(error)"))")
        }
        await identity.close()
        say("try it yourself: ldapsearch -x -H \(lab.forests().first { $0.name == corp }?.uri ?? "") \\")
        say("  -b '\(layout.systemManagement)' '(objectClass=mSSMSManagementPoint)' dNSHostName mSSMSSiteCode")

        step(7, "Jobs travel between sites hop by hop, each hop through an address chosen by schedule and priority")
        let planner = RoutePlanner(hierarchy: model)
        let monday = LocalTime.parse("2026-11-23T10:00") ?? Date()
        for (from, to, priority) in [
            ("CEN", "S01", JobPriority.medium), ("S01", "P02", .medium), ("S01", "P02", .high),
        ] {
            let route = planner.route(from: from, to: to, priority: priority, at: monday)
            say("\(from) → \(to), a \(priority.rawValue)-priority job on Monday at 10:00:")
            for hop in route.hops {
                say(
                    "  \(hop.from) → \(hop.to) by \(hop.sender.rawValue)"
                        + (hop.waitUntil.map {
                            ", waiting until \(LocalTime.string(from: $0)) (no address admits it before then)"
                        } ?? "")
                )
            }
            if let failure = route.failure { say("  cannot be made: \(failure.message)") }
        }
        say("(siteloc route --hierarchy \(hierarchy) --from S01 --to P02 --at 2026-11-23T10:00 --json)")

        step(8, "Site servers carry a package hop by hop, signed and verified at every hop")
        try await carryPackage(model: model, lab: lab, deployment: deployment, connector: connector)

        step(10, "Sites may talk across forests only where the forests allow it")
        try await checkTrusts(model: model, lab: lab)

        if keep {
            step(11, "The lab stays up; stop it with: siteloc lab down --dir \(directory)")
        } else {
            step(11, "Stop the lab")
            let stopped = try await lab.down()
            say("stopped \(stopped.map(\.name.rawValue).joined(separator: ", "))")
        }
    }

    /// Step 8: keys, publishing them, a hand exchange across the forest boundary, a site server per site (in this
    /// process, over the lab's smbd), and a package sent from CEN arriving at S01 and P02.
    private func carryPackage(
        model: Hierarchy,
        lab: Lab,
        deployment: Deployment,
        connector: @escaping Publisher.Connector
    ) async throws {
        let sitesDirectory = lab.sitesDirectory
        for site in model.sites {
            _ = try SiteFolders(site: site.code, sitesDirectory: sitesDirectory).initialize()
        }
        _ = try await Publisher.run(
            model.sites,
            in: model,
            connect: connector,
            publicKey: { SiteFolders(site: $0, sitesDirectory: sitesDirectory).readPublicKey()?.published }
        )
        say("each site server has a signing key; the published sites' public keys are in serviceBindingInformation")
        // CEN and P02 are in different forests, and S02 does not publish: their neighbours get key files by hand.
        for (from, to) in [("CEN", "P02"), ("P02", "CEN"), ("S02", "P02"), ("P02", "S02")] {
            let sender = SiteFolders(site: try SiteCode(from), sitesDirectory: sitesDirectory)
            guard let site = model.site(sender.site), let key = sender.readPublicKey() else { continue }
            let file = lab.directory.appendingPathComponent("\(from).key")
            try SiteKeyFile(site: site.code, forest: site.forest, key: key).encoded().write(to: file)
            _ = try SiteFolders(site: try SiteCode(to), sitesDirectory: sitesDirectory).importKey(from: file)
        }
        say("keys exchanged by hand (siteloc keys export / import): CEN ↔ P02 across the forests, P02 ↔ S02")
        // The walk-through says in its own words what the site servers do; their log lines go to a file.
        let logFile = lab.directory.appendingPathComponent("demo-sites.log")
        let sink = try FileLogHandler.Sink(logFile)
        var deployment = deployment
        deployment.logger = Logger(label: "siteloc") { FileLogHandler(sink: sink, label: $0) }
        say("the site servers' and services' log: \(logFile.path)")
        let servers = try siteServers(model.sites, in: deployment) {
            $0.pollInterval = .milliseconds(50)
        }
        // Beside the site servers, each management point and distribution point as an HTTP service, recorded in
        // the lab where clients find them.
        let systems = try siteSystemServers(model.sites.map(\.code), in: deployment) { system, site, url in
            try? lab.record(system, of: site.code, url: url)
        }
        defer { for system in systems { lab.forgetSystem(system.system.host) } }
        try await withServices(servers + systems, logger: deployment.logger) {
            _ = try await poll(within: .seconds(20)) { lab.systems().count == systems.count ? true : nil }
            try await sendAndFollow(model: model, lab: lab, locator: deployment.locator(), servers: servers)
            step(9, "A roaming client downloads over HTTP and resumes from another distribution point")
            try await roamingDownload(model: model, lab: lab, deployment: deployment)
            try await showStatusPage(lab: lab)
        }
    }

    /// CEN's status page while its management point serves it, and a screenshot of it left in the lab folder.
    private func showStatusPage(lab: Lab) async throws {
        guard let mp = lab.systems().first(where: { $0.site == "CEN" && $0.roles.contains("managementPoint") }),
            let url = URL(string: mp.url)?.appendingPathComponent("siteloc/status")
        else { return }
        say("CEN's status page (sites, package status, outbox, rejected jobs, links): \(url.absoluteString)")
        say("and its metrics for Prometheus: \(mp.url)/metrics")
        let screenshot = lab.directory.appendingPathComponent("status-CEN.png").path
        do {
            try await LabBrowser.screenshot(of: url, to: screenshot)
            say("a screenshot of it (headless chromium): \(screenshot)")
        } catch {
            say("no screenshot: \(error)")
        }
    }

    private func sendAndFollow(model: Hierarchy, lab: Lab, locator: Locator, servers: [SiteServer]) async throws {
        let sitesDirectory = lab.sitesDirectory
        say(
            "site servers running for \(model.sites.map(\.code.rawValue).joined(separator: ", ")), inboxes shared as SMS_<code>"
        )
        // Subscribed before the package goes: each site server reports the jobs it applies as it applies them.
        let activity = Dictionary(
            uniqueKeysWithValues: servers.map { ($0.settings.site.rawValue, $0.activity.stream()) }
        )
        let content = lab.directory.appendingPathComponent("KB958644.msu")
        try Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: content)
        let sent = try PackageSending.send(
            "CEN00002",
            hierarchy: model,
            sitesDirectory: sitesDirectory,
            content: content,
            priority: .high
        )
        say(
            "siteloc send package CEN00002 --priority high: placed on \(sent.placedAtSource.joined(separator: ", ")) at CEN"
        )
        for job in sent.jobs { say("  job for \(job.destination): \(job.route.joined(separator: " → "))") }
        var arrived: [String: SiteEvent] = [:]
        await withTaskGroup(of: [SiteEvent].self) { group in
            for (destination, jobs) in Dictionary(grouping: sent.jobs, by: \.destination) {
                guard let stream = activity[destination] else { continue }
                let ids = Set(jobs.map(\.id))
                group.addTask {
                    // Until every job for this destination is applied, or a minute passed.
                    await withTaskGroup(of: [SiteEvent].self) { watch in
                        watch.addTask {
                            var applied: [SiteEvent] = []
                            for await event in stream where event.event == "applied" && ids.contains(event.job ?? "") {
                                applied.append(event)
                                if applied.count == ids.count { break }
                            }
                            return applied
                        }
                        watch.addTask {
                            try? await Task.sleep(for: .seconds(60))
                            return []
                        }
                        let first = await watch.next() ?? []
                        watch.cancelAll()
                        return first
                    }
                }
            }
            for await events in group {
                for event in events { arrived[event.job ?? ""] = event }
            }
        }
        for job in sent.jobs {
            let applied = arrived[job.id]
            say(
                "  \(job.destination): \(applied.map { "arrived, signed by \($0.from ?? "?"), \($0.detail ?? "")" } ?? "not arrived")"
            )
        }
        // Package status travels back up: CEN learns from its own database who holds which version.
        let central = SiteFolders(site: try SiteCode("CEN"), sitesDirectory: sitesDirectory)
        let reporters = Set(sent.jobs.map(\.destination))
        func reported() -> [PackageStatus] { SiteStatus(folders: central).below.filter { $0.package == "CEN00002" } }
        let reports =
            try await poll(within: .seconds(60)) { Set(reported().map(\.site)) == reporters ? reported() : nil }
            ?? reported()
        say("package status in CEN's site database (siteloc site status --site CEN):")
        for report in reports {
            say(
                "  \(report.site) holds \(report.package) \(report.version.prefix(19))… on "
                    + report.distributionPoints.joined(separator: ", ")
            )
        }
        let update = try requirePackage(model, "CEN00002")
        let client = try demoClient("10.22.0.40/24", "P01", .forest("corp.contoso.com"))
        let result = try await locator.content(
            client,
            package: update,
            advertisement: model.advertisements.first { $0.package == update.id }
        )
        say(
            "a P01 client roaming in Lyon (S01) asks for CEN00002 → \(result.decision) from "
                + result.distributionPoints.map(\.host).joined(separator: ", ")
        )
        try await refuseForgery(sitesDirectory: sitesDirectory, content: content)
        say("(siteloc site status --dir \(directory) shows each server's jobs, rejections and packages)")
    }

    /// Step 9: Office 2007 (CEN00001, 16 MB) sent to Paris; a laptop at headquarters starts downloading it from
    /// cen-dp1, is killed halfway, opens in Paris and continues from p01-dp at the byte where it stopped (seed 003).
    private func roamingDownload(model: Hierarchy, lab: Lab, deployment: Deployment) async throws {
        for system in lab.systems()
        where ["p01-mp.corp.contoso.com", "p01-dp.corp.contoso.com", "cen-dp1.corp.contoso.com"].contains(system.host) {
            say("\(system.host) (\(system.roles.joined(separator: ", "))) listening at \(system.url)")
        }
        let content = lab.directory.appendingPathComponent("office2007.bin")
        try Data((0..<(16 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }).write(to: content)
        let sent = try PackageSending.send(
            "CEN00001",
            hierarchy: model,
            sitesDirectory: lab.sitesDirectory,
            content: content
        )
        say(
            "siteloc send package CEN00001 (16 MB): placed on \(sent.placedAtSource.joined(separator: ", ")) at CEN, a job for P01"
        )
        let paris = SiteFolders(site: try SiteCode("P01"), sitesDirectory: lab.sitesDirectory)
        // P01's database, opened once (its site server created it when it started), not a whole status every poll.
        let parisDatabase = try paris.openDatabase(readOnly: true)
        let placed = try await poll(within: .seconds(60)) { (try? parisDatabase?.placement(of: "CEN00001")) ?? nil }
        say("P01 placed it on \(placed?.distributionPoints.joined(separator: " and ") ?? "nothing?!")")

        let state = lab.directory.appendingPathComponent("client")
        try? FileManager.default.removeItem(at: state)
        // At home (headquarters), as a process of its own that is killed halfway: a laptop closed mid-download.
        let laptop = try ChildProcess.spawnDetached(
            ProcessInfo.processInfo.arguments[0],
            [
                "client", "get", "--hierarchy", hierarchy, "--dir", directory, "--ip", "10.10.9.9/16",
                "--assigned-site", "CEN", "--forest", "corp.contoso.com", "--package", "CEN00001", "--advertisement",
                "CEN20001", "--state", state.path, "--max-rate", String(8 << 20),
            ],
            logFile: "/dev/null"
        )
        let record = state.appendingPathComponent("downloads/CEN00001.json")
        _ = try await poll(within: .seconds(30)) { FileManager.default.fileExists(atPath: record.path) ? true : nil }
        kill(laptop, SIGKILL)
        await withBlockingWork { @concurrent in _ = ChildProcess.wait(laptop) }
        let done =
            (try? JSONSerialization.jsonObject(with: Data(contentsOf: record)) as? [String: Any])?["done"] as? Int ?? 0
        say(
            "a CEN laptop at headquarters (10.10.9.9/16) asks cen-mp and downloads from cen-dp1 over HTTP; killed"
                + " halfway (kill -9): \(done) of \(16 << 20) bytes kept"
        )

        // Opened again in Paris: the resident management point there, another distribution point, the same byte.
        let roamed = try demoClient("10.20.4.7/16", "CEN", .forest("corp.contoso.com"))
        let result = try await deployment.contentClient(state: state).get(
            roamed,
            package: "CEN00001",
            advertisement: "CEN20001"
        )
        let download = result.download
        say(
            "opened in Paris (10.20.4.7/16) it asks \(result.content.answeredBy ?? "?"): \(result.content.decision) from "
                + result.content.distributionPoints.map(\.host).joined(separator: ", ")
        )
        say(
            "  resumed from byte \(download?.resumedFrom ?? 0) on \(download?.sources.map(\.host).joined(separator: ", ") ?? "?"),"
                + " \(download?.transferred ?? 0) bytes this time, status \(result.status.rawValue), SHA-256 checked"
        )
        say(
            "(siteloc client get --hierarchy \(hierarchy) --dir \(directory) --ip 10.20.4.7/16 --assigned-site CEN --forest corp.contoso.com --package CEN00001)"
        )
    }

    /// What a compromised S01 cannot do: replace CEN's package by a job that claims to come from CEN.
    private func refuseForgery(sitesDirectory: URL, content: URL) async throws {
        let s01 = SiteFolders(site: try SiteCode("S01"), sitesDirectory: sitesDirectory)
        let p01 = SiteFolders(site: try SiteCode("P01"), sitesDirectory: sitesDirectory)
        let stolen = try SiteSigningKey(contentsOf: s01.signingKey)
        let (digest, bytes) = try JobFile.digest(of: content)
        var header = JobHeader(
            id: JobHeader.newID(package: "CEN00002", destination: try SiteCode("CEN")),
            package: "CEN00002",
            origin: try SiteCode("CEN"),
            destination: try SiteCode("CEN"),
            signer: try SiteCode("S01"),
            priority: .high,
            created: Date(),
            payloadBytes: bytes,
            payloadSHA256: digest
        )
        try header.signAsOrigin(with: stolen)
        let staging = sitesDirectory.appendingPathComponent(".forged.job")
        try JobFile.write(header, payload: content, signedBy: stolen, to: staging)
        let name = "\(header.id).S01.forged.job"
        try FileManager.default.moveItem(at: staging, to: p01.inbox.appendingPathComponent(name))
        let refusal = try await poll(within: .seconds(30)) {
            SiteStatus(folders: p01).rejected.first { $0.file == name }
        }
        say(
            "with S01's key, a job for CEN claiming to come from CEN, dropped into P01's inbox: "
                + (refusal.map { "refused, \($0.code): \($0.reason)" } ?? "not refused?!")
        )
    }

    /// Step 9: the cross-forest rules, read from the lab's directories, then from a file that breaks two of them.
    private func checkTrusts(model: Hierarchy, lab: Lab) async throws {
        let records = try await readForestRecords(model, lab: lab, timeout: .seconds(2))
        let report = TrustCheck.check(model, facts: ForestFacts(records: records, hierarchy: model))
        for crossing in report.crossings {
            say(
                "\(crossing.kind.rawValue) \(crossing.from) → \(crossing.to) (\(crossing.forests.joined(separator: " → ")))"
            )
        }
        say(
            "from the directories: "
                + (report.ok
                    ? "allowed (Windows Server 2003 level, a two-way transitive forest trust)" : "violations?!")
        )
        var broken = model
        if let index = broken.forests.firstIndex(where: { $0.name.rawValue == "fabrikam.com" }) {
            broken.forests[index].functionalLevel = .windows2003interim
        }
        if let index = broken.sites.firstIndex(where: { $0.code.rawValue == "S02" }) {
            broken.sites[index].forest = try ForestName("corp.contoso.com")
        }
        say("the same with fabrikam.com at windows2003interim and S02 moved into corp.contoso.com:")
        for finding in TrustCheck.check(broken, facts: ForestFacts(hierarchy: broken)).violations {
            say("  \(finding.rule.rawValue) (\(finding.site ?? "")): fix: \(finding.fix)")
        }
        say("(siteloc trust check --hierarchy \(hierarchy) --from-directory --dir \(directory))")
    }

    /// What the walk-through names: checked before anything starts, so another hierarchy fails at once.
    static func missing(in model: Hierarchy) -> [String] {
        let forests = ["corp.contoso.com", "fabrikam.com"].filter { name in
            !model.forests.contains { $0.name.rawValue == name }
        }
        let sites = ["CEN", "P01", "P02", "S01", "S02"].filter { code in
            !model.sites.contains { $0.code.rawValue == code }
        }
        let packages = ["CEN00001", "CEN00002"].filter { model.package($0) == nil }
        return forests.map { "forest \($0)" } + sites.map { "site \($0)" } + packages.map { "package \($0)" }
    }

    /// What `check` finds, asked every 50 ms until it finds something or `limit` has passed (then nil): how the demo
    /// waits for site servers in the same process.
    private func poll<T>(within limit: Duration, _ check: () throws -> T?) async throws -> T? {
        let deadline = ContinuousClock.now + limit
        while true {
            if let found = try check() { return found }
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func step(_ number: Int, _ title: String) {
        print("\n\(number). \(title)")
    }

    private func say(_ line: String) {
        print("   " + line)
    }
}

private func demoClient(
    _ address: String,
    _ site: String,
    _ membership: ClientProfile.Membership
) throws -> ClientProfile {
    ClientProfile(address: try ClientAddress(address), assignedSite: try SiteCode(site), membership: membership)
}

private func requirePackage(_ hierarchy: Hierarchy, _ id: String) throws -> Package {
    guard let package = hierarchy.package(id) else {
        throw CommandFailure.badInput("the demo needs package \(id) in the hierarchy")
    }
    return package
}

private func requireSiteHelper(_ hierarchy: Hierarchy, _ code: String) throws -> Site {
    guard let code = try? SiteCode(code), let site = hierarchy.site(code) else {
        throw CommandFailure.badInput("the demo needs site \(code) in the hierarchy")
    }
    return site
}
