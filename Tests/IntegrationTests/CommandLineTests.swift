import BlockingWork
import Foundation
import SiteTestKit
import Testing

/// `siteloc` run as a user runs it: exit statuses of docs/command-line.md, JSON output, and errors that say what to do.
@Suite(.timeLimit(.minutes(2))) struct CommandLine {
    struct Run {
        var status: Int32
        var output: String
        var error: String
    }

    /// The `siteloc` built beside this test bundle.
    static let executable: URL = {
        let beside = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("siteloc")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/siteloc")
    }()

    /// Runs siteloc and waits for it on the blocking executor: a test waiting for a process must not hold one of
    /// the few cooperative threads the other tests' tasks (and their time bounds) need.
    static func siteloc(_ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
        try await withBlockingWork { try run(arguments, environment: environment) }
    }

    /// For a `defer` that must clean up (stop a lab) however the test ended; it blocks its thread while it runs.
    static func cleanUp(_ arguments: [String]) {
        _ = try? run(arguments, environment: [:])
    }

    private static func run(_ arguments: [String], environment: [String: String]) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            output: String(decoding: out, as: UTF8.self),
            error: String(decoding: err, as: UTF8.self)
        )
    }

    static func withFolder(_ body: (String) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await body(folder.path)
    }

    @Test(arguments: [
        (["lab", "up", "--forest", "bad..name"], "expected a DNS domain name"),
        (["schema", "install", "--uri", "foo"], "expected ldap://HOST[:PORT]"),
        (["schema", "install", "--uri", "ldap://127.0.0.1:1"], "--bind-dn is needed"),
        (["schema", "print", "--format", "xml"], "Please provide one of 'ldif', 'schema' or 'indexes'"),
        (["no-such-command"], "Unexpected argument"),
    ])
    func badInputExitsTwoAndNamesTheExpectedForm(arguments: [String], expected: String) async throws {
        let run = try await Self.siteloc(arguments)
        #expect(run.status == 2)
        #expect(run.error.contains(expected), "stderr: \(run.error)")
    }

    @Test func labUpStatusInstallDownAsAUserWould() async throws {
        try await Self.withFolder { folder in
            let up = try await Self.siteloc(["lab", "up", "--forest", "corp.contoso.com", "--dir", folder, "--json"])
            #expect(up.status == 0, "stderr: \(up.error)")
            let started = try JSONSerialization.jsonObject(with: Data(up.output.utf8)) as? [[String: Any]]
            #expect(started?.first?["forest"] as? String == "corp.contoso.com")
            #expect(started?.first?["answering"] as? Bool == true)
            let uri = try #require(started?.first?["uri"] as? String)
            let passwordFile = try #require(started?.first?["passwordFile"] as? String)
            let password = try String(contentsOfFile: passwordFile, encoding: .utf8)
            #expect(!up.output.contains(password) && !up.error.contains(password))

            let install = try await Self.siteloc(
                ["schema", "install"],
                environment: [
                    "SITELOC_DIRECTORY_URI": uri, "SITELOC_BIND_DN": "cn=admin,cn=config",
                    "SITELOC_BIND_PASSWORD_FILE": passwordFile,
                ]
            )
            #expect(install.status == 0, "stderr: \(install.error)")
            #expect(install.output.contains("already installed"))

            let wrongPassword = folder + "/wrong"
            try "not-the-password".write(toFile: wrongPassword, atomically: true, encoding: .utf8)
            let refused = try await Self.siteloc([
                "schema", "install", "--uri", uri, "--bind-dn", "cn=admin,cn=config", "--password-file", wrongPassword,
            ])
            #expect(refused.status == 3)
            #expect(refused.error.contains("Invalid credentials"))
            #expect(!refused.error.contains("not-the-password"))

            let status = try await Self.siteloc(["lab", "status", "--dir", folder])
            #expect(status.status == 0)
            #expect(status.output.contains("corp.contoso.com  up"))

            let down = try await Self.siteloc(["lab", "down", "--dir", folder])
            #expect(down.status == 0)
            let after = try await Self.siteloc(["lab", "status", "--dir", folder, "--json"])
            let report = try JSONSerialization.jsonObject(with: Data(after.output.utf8)) as? [String: Any]
            let stopped = report?["forests"] as? [[String: Any]]
            #expect(stopped?.first?["running"] as? Bool == false)
            #expect((report?["systems"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func missingSlapdSaysHowToInstallIt() async throws {
        try await Self.withFolder { folder in
            let run = try await Self.siteloc(
                ["lab", "up", "--forest", "corp.contoso.com", "--dir", folder],
                environment: ["SITELOC_OPENLDAP_SBIN": folder + "/nothing-here"]
            )
            #expect(run.status == 3)
            #expect(run.error.contains("slapd is not installed"))
            #expect(run.error.contains("apt-get install -y slapd ldap-utils"))
        }
    }

    @Test func slapdThatCannotStartIsReportedWithTheEndOfItsLog() async throws {
        try await Self.withFolder { folder in
            #expect(try await Self.siteloc(["lab", "up", "--forest", "corp.contoso.com", "--dir", folder]).status == 0)
            #expect(try await Self.siteloc(["lab", "down", "--dir", folder]).status == 0)
            let database = folder + "/corp.contoso.com/slapd.d/cn=config/olcDatabase={1}mdb.ldif"
            let broken = try String(contentsOfFile: database, encoding: .utf8)
                .replacingOccurrences(of: "olcDbDirectory: ", with: "olcDbDirectory: /nonexistent")
            try broken.write(toFile: database, atomically: true, encoding: .utf8)
            let run = try await Self.siteloc(["lab", "up", "--dir", folder])
            #expect(run.status == 3)
            #expect(run.error.contains("did not start"))
            #expect(run.error.contains("olcDbDirectory: value #0: invalid path"))
        }
    }
}

extension CommandLine {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/contoso.yaml").path

    @Test func validateNamesEveryMistakeByLineAndExitsTwo() async throws {
        let clean = try await Self.siteloc(["validate", "--hierarchy", Self.example])
        #expect(clean.status == 0)
        #expect(clean.output.contains("0 errors, 1 warning"))
        #expect(try await Self.siteloc(["validate", "--hierarchy", Self.example, "--strict"]).status == 1)
        try await Self.withFolder { folder in
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let broken = try String(contentsOfFile: Self.example, encoding: .utf8)
                .replacingOccurrences(of: "  - code: S01\n", with: "  - code: AUX\n")
                .replacingOccurrences(of: "      - subnet: 10.30.0.0/16\n", with: "      - subnet: 10.30.0.1/16\n")
                .replacingOccurrences(of: "    publish: false\n", with: "    publish: nope\n")
            try broken.write(toFile: folder + "/broken.yaml", atomically: true, encoding: .utf8)
            let run = try await Self.siteloc(["validate", "--hierarchy", folder + "/broken.yaml", "--json"])
            #expect(run.status == 2)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            let errors = try #require(report["errors"] as? [[String: Any]])
            let messages = errors.compactMap { $0["message"] as? String }
            #expect(messages.contains { $0.contains("'AUX'") })
            #expect(messages.contains { $0.contains("10.30.0.1/16") })
            #expect(messages.contains { $0.contains("publish") && $0.contains("true or false") })
            #expect(errors.allSatisfy { ($0["line"] as? Int ?? 0) > 0 })
        }
    }

    @Test func thePublishWorkflowAsTheReadmeShowsIt() async throws {
        try await Self.withFolder { folder in
            let lab = ["--dir", folder + "/lab"]
            #expect(try await Self.siteloc(["lab", "up", "--hierarchy", Self.example] + lab).status == 0)
            defer { Self.cleanUp(["lab", "down"] + lab) }
            let dryRun = try await Self.siteloc(["publish", "--hierarchy", Self.example, "--dry-run"] + lab)
            #expect(dryRun.status == 0, "stderr: \(dryRun.error)")
            #expect(
                dryRun.output.contains("dn: cn=SMS-Site-CEN,cn=System Management,cn=System,dc=corp,dc=contoso,dc=com")
            )
            #expect(dryRun.output.contains("changetype: add"))
            let first = try await Self.siteloc(["publish", "--hierarchy", Self.example] + lab)
            #expect(first.status == 0, "stderr: \(first.error)")
            #expect(first.output.contains("CEN  3 added, 0 changed, 0 deleted"))
            let second = try await Self.siteloc(["publish", "--hierarchy", Self.example] + lab)
            #expect(second.output.split(separator: "\n").allSatisfy { $0.contains("no change") })
            let removed = try await Self.siteloc(["unpublish", "--hierarchy", Self.example, "--site", "P01"] + lab)
            #expect(removed.output.contains("P01  0 added, 0 changed, 3 deleted"))
            let unknown = try await Self.siteloc(["publish", "--hierarchy", Self.example, "--site", "ZZZ"] + lab)
            #expect(unknown.status == 2)
            #expect(unknown.error.contains("expected one of CEN, P01"))
        }
    }
}

extension CommandLine {
    @Test func routeExitsZeroOneOrTwoWithTheSpecsJSON() async throws {
        let planned = try await Self.siteloc([
            "route", "--hierarchy", Self.example, "--from", "s01", "--to", "P02", "--at", "2026-11-23T10:00", "--json",
        ])
        #expect(planned.status == 0, "stderr: \(planned.error)")
        let route = try JSONSerialization.jsonObject(with: Data(planned.output.utf8)) as? [String: Any]
        let hops = route?["hops"] as? [[String: Any]]
        #expect(hops?.map { "\($0["from"] ?? "")>\($0["to"] ?? "")" } == ["S01>P01", "P01>CEN", "CEN>P02"])
        #expect(hops?.last?["waitUntil"] as? String == "2026-11-23T18:00")
        #expect(route?["error"] is NSNull)

        let unknown = try await Self.siteloc([
            "route", "--hierarchy", Self.example, "--from", "CEN", "--to", "XYZ", "--json",
        ])
        #expect(unknown.status == 2)
        #expect(unknown.output.contains(#""code" : "unknown-site""#))

        try await Self.withFolder { folder in
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let file = folder + "/no-address.yaml"
            try """
            version: 1
            forests: [{name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}]
            sites:
              - {code: CEN, type: primary, forest: corp.contoso.com, server: cen.corp.contoso.com}
              - {code: P01, type: primary, parent: CEN, forest: corp.contoso.com, server: p01.corp.contoso.com}
            """.write(toFile: file, atomically: true, encoding: .utf8)
            let missing = try await Self.siteloc(["route", "--hierarchy", file, "--from", "CEN", "--to", "P01"])
            #expect(missing.status == 1)
            #expect(missing.output.contains("missing-address"), "output: \(missing.output)")
        }

        let badTime = try await Self.siteloc([
            "route", "--hierarchy", Self.example, "--from", "CEN", "--to", "P01", "--at", "noon",
        ])
        #expect(badTime.status == 2)
        #expect(badTime.error.contains("expected ISO 8601 to the minute"))
    }
}

extension CommandLine {
    /// The main job, as `make demo` runs it: the whole story on its own lab, which it stops.
    @Test func theDemoTellsTheWholeStoryAndStopsItsLab() async throws {
        try await Self.withFolder { folder in
            let run = try await Self.siteloc(["demo", "--hierarchy", Self.example, "--dir", folder])
            #expect(run.status == 0, "stderr: \(run.error)")
            for expected in [
                "1. Read and check the hierarchy", "P01 changing CEN's site object: refused",
                "CEN → P02 by standard, waiting until 2026-11-23T18:00",
                "S01: arrived, signed by P01, placed on s01-mp.corp.contoso.com",
                "P02: arrived, signed by CEN, placed on p02-dp.fabrikam.com",
                "package status in CEN's site database", "S01 holds CEN00002 sha256:",
                "P02 holds CEN00002 sha256:",
                "asks for CEN00002 → download-local from s01-mp.corp.contoso.com",
                "claiming to come from CEN, dropped into P01's inbox: refused, bad-origin",
                "from the directories: allowed", "secondary-site-in-other-forest (S02)",
                "forest-functional-level (P02)", "killed halfway (kill -9)",
                "opened in Paris (10.20.4.7/16) it asks p01-mp.corp.contoso.com: download-local from p01-dp",
                "on p01-dp.corp.contoso.com", "status complete, SHA-256 checked", "11. Stop the lab",
                "stopped corp.contoso.com, fabrikam.com",
            ] {
                #expect(run.output.contains(expected), "missing: \(expected)")
            }
            // The walk-through speaks in its own words: the site servers' log lines (the forged job's rejection
            // among them) are in the file it names, not in its output.
            #expect(!run.error.contains("[SiteServer]") && !run.output.contains("[SiteServer]"), "\(run.error)")
            let log = try String(contentsOfFile: folder + "/demo-sites.log", encoding: .utf8)
            #expect(log.contains("reason=bad-origin"), "\(log.prefix(2_000))")
            // The lab's smbd stopped with the directories.
            let smbd = try String(contentsOfFile: folder + "/smb/smbd.json", encoding: .utf8)
            #expect(!smbd.contains("\"pid\""), "\(smbd)")
        }
    }
}

extension CommandLine {
    /// The site-server commands refuse what they cannot do with the exit status of docs/command-line.md and say what to do.
    @Test func siteServerCommandsNameTheProblemAndTheFix() async throws {
        try await Self.withFolder { folder in
            let site = ["--hierarchy", Self.example, "--dir", folder]
            for (arguments, status, expected) in [
                (["site", "run", "--site", "CEN"] + site, Int32(2), "siteloc site init --site CEN"),
                (["site", "init", "--site", "ZZZ"] + site, 2, "expected one of CEN, P01, S01, P02, S02"),
                (["send", "package", "CEN00001"] + site, 2, "siteloc site init"),
                (
                    ["site", "run", "--site", "CEN", "--transport", "carrier"] + site, 2,
                    "'carrier' is not one of smb, folder"
                ),
                (["keys", "export", "--site", "CEN"] + site, 2, "create it with: siteloc site init --site CEN"),
                (["site", "status", "--site", "CEN", "--dir", folder], 2, "no site server folder for 'CEN'"),
            ] {
                let run = try await Self.siteloc(arguments)
                #expect(run.status == status, "\(arguments): \(run.error)")
                #expect(run.error.contains(expected), "\(arguments): \(run.error)")
            }
            #expect(try await Self.siteloc(["site", "init", "--site", "CEN"] + site).status == 0)
            #expect(try await Self.siteloc(["site", "init", "--site", "P01"] + site).status == 0)
            for (arguments, status, expected) in [
                (["send", "package", "CEN00001"] + site, Int32(2), "give it with --content FILE"),
                (["send", "package", "CEN09999"] + site, 2, "expected one of: CEN00001, CEN00002"),
                (
                    ["keys", "import", "--site", "P01", "--file", folder + "/none.key"] + site, 2,
                    "cannot read the key file"
                ),
                (["site", "run", "--site", "CEN", "--transport", "smb"] + site, 3, "siteloc lab up --hierarchy FILE"),
            ] {
                let run = try await Self.siteloc(arguments)
                #expect(run.status == status, "\(arguments): \(run.error)")
                #expect(run.error.contains(expected), "\(arguments): \(run.error)")
            }
            // Any site's key may be imported (it checks the origin of what that site creates); a key of a site the
            // hierarchy does not have is refused and not stored.
            let key = folder + "/s02.key"
            #expect(try await Self.siteloc(["site", "init", "--site", "S02"] + site).status == 0)
            #expect(try await Self.siteloc(["keys", "export", "--site", "S02", "--output", key] + site).status == 0)
            #expect(try await Self.siteloc(["keys", "import", "--site", "P01", "--file", key] + site).status == 0)
            #expect(FileManager.default.fileExists(atPath: folder + "/sites/P01/keys/peers/S02.json"))
            let stranger = folder + "/zzz.key"
            try String(contentsOfFile: key, encoding: .utf8).replacingOccurrences(of: "\"S02\"", with: "\"ZZZ\"")
                .write(toFile: stranger, atomically: true, encoding: .utf8)
            let refused = try await Self.siteloc(["keys", "import", "--site", "P01", "--file", stranger] + site)
            #expect(refused.status == 2)
            #expect(refused.error.contains("ZZZ, which is not a site of the hierarchy"), "\(refused.error)")
            #expect(!FileManager.default.fileExists(atPath: folder + "/sites/P01/keys/peers/ZZZ.json"))
        }
    }
}

extension CommandLine {
    /// `trust check` as a user runs it: a readable report with the fix, the JSON, and exit 0, 1 and 2.
    @Test func trustCheckReportsEachViolationWithItsFixAndExitStatus() async throws {
        try await Self.withFolder { folder in
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let clean = Self.example.replacingOccurrences(of: "contoso.yaml", with: "three-forests.yaml")
            let ok = try await Self.siteloc(["trust", "check", "--hierarchy", clean])
            #expect(ok.status == 0, "\(ok.error)")
            #expect(ok.output.contains("4 forest crossing(s)") && ok.output.contains("ok: no rule is broken"))
            let broken = folder + "/broken.yaml"
            try String(contentsOfFile: clean, encoding: .utf8)
                .replacingOccurrences(
                    of: "roles: [systemHealthValidator]",
                    with: "roles: [systemHealthValidator, pxeServicePoint]"
                )
                .write(toFile: broken, atomically: true, encoding: .utf8)
            let text = try await Self.siteloc(["trust", "check", "--hierarchy", broken])
            #expect(text.status == 1)
            #expect(text.output.contains("violation: role-not-supported-across-forest: site system shv.fabrikam.com"))
            #expect(text.output.contains("fix: move pxeServicePoint to a server in corp.contoso.com"), "\(text.output)")
            let json = try await Self.siteloc(["trust", "check", "--hierarchy", broken, "--json"])
            #expect(json.status == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
            #expect(object["ok"] as? Bool == false)
            #expect((object["violations"] as? [[String: Any]])?.first?["system"] as? String == "shv.fabrikam.com")
            let missing = try await Self.siteloc(["trust", "check", "--hierarchy", folder + "/none.yaml"])
            #expect(missing.status == 2)
        }
    }
}

extension CommandLine {
    /// `site run --all`: every initialised site's server in one process, stopped cleanly by SIGTERM.
    @Test func allSiteServersRunInOneProcessAndStopOnSigterm() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-all-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let site = ["--hierarchy", Self.example, "--dir", folder]
        let neither = try await Self.siteloc(["site", "run"] + site)
        #expect(neither.status == 2 && neither.error.contains("give either --site CODE or --all"), "\(neither.error)")
        for code in ["CEN", "P01"] {
            #expect(try await Self.siteloc(["site", "init", "--site", code] + site).status == 0)
        }
        // No directory here: P01 gets CEN's key by hand.
        let key = folder + "/cen.key"
        #expect(try await Self.siteloc(["keys", "export", "--site", "CEN", "--output", key] + site).status == 0)
        #expect(try await Self.siteloc(["keys", "import", "--site", "P01", "--file", key] + site).status == 0)
        let content = folder + "/office.bin"
        try Data(repeating: 9, count: 10_000).write(to: URL(fileURLWithPath: content))
        #expect(try await Self.siteloc(["send", "package", "CEN00001", "--content", content] + site).status == 0)
        // A FIFO in CEN's inbox stalls nothing; a file name with a line break forges no log line.
        #expect(mkfifo(folder + "/sites/CEN/inbox/stall.CEN.x.job", 0o644) == 0)
        try Data("junk".utf8).write(to: URL(fileURLWithPath: folder + "/sites/P01/inbox/a\nFORGED line.job"))

        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["site", "run", "--all", "--transport", "folder", "--poll-interval", "0.05"] + site
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let sites = URL(fileURLWithPath: folder + "/sites")
        let deadline = ContinuousClock.now + .seconds(30)
        while !isPlaced("CEN00001", at: "P01", sitesDirectory: sites), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(isPlaced("CEN00001", at: "P01", sitesDirectory: sites))
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(
            printed.contains("site server CEN running") && printed.contains("site server P01 running"),
            "\(printed)"
        )
        let status = try await Self.siteloc(["site", "status", "--dir", folder])
        #expect(status.output.contains("CEN  stopped") && status.output.contains("P01  stopped"), "\(status.output)")
        let logged = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(logged.contains("a\\u{a}FORGED line.job"), "\(logged)")
        #expect(!logged.split(separator: "\n").contains { $0.hasPrefix("FORGED") }, "\(logged)")
        #expect(FileManager.default.fileExists(atPath: folder + "/sites/CEN/rejected/stall.CEN.x.job"))
    }
}

extension CommandLine {
    /// `siteloc serve` reads the admin password from the environment and becomes slapd: the slapd process must not
    /// carry the password in its environment (anyone who may read /proc/PID/environ would see it).
    @Test func servedSlapdDoesNotInheritThePassword() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = try SilentListener.closedPort()
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = [
            "serve", "--forest", "serve.example.com", "--data", folder.path, "--listen", "ldap://127.0.0.1:\(port)/",
        ]
        let secret = "pw-\(UUID().uuidString)"
        let replicationSecret = "rp-\(UUID().uuidString)"
        let peer = try SilentListener.closedPort()
        process.environment = ProcessInfo.processInfo.environment.merging([
            "SITELOC_ADMIN_PASSWORD": secret, "SITELOC_REPLICATION_PASSWORD": replicationSecret,
            "SITELOC_SERVER_ID": "1", "SITELOC_PEERS": "2=ldap://127.0.0.1:\(peer)/",
        ]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let proc = "/proc/\(process.processIdentifier)"
        let deadline = ContinuousClock.now + .seconds(60)
        var command = ""
        while ContinuousClock.now < deadline {
            command = (try? String(contentsOfFile: proc + "/cmdline", encoding: .utf8)) ?? ""
            if command.contains("slapd") || !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(command.contains("slapd"), "siteloc serve did not become slapd: \(command)")
        let environment = try Data(contentsOf: URL(fileURLWithPath: proc + "/environ"))
        #expect(!String(decoding: environment, as: UTF8.self).contains("SITELOC_ADMIN_PASSWORD"))
        #expect(!String(decoding: environment, as: UTF8.self).contains(secret))
        #expect(!String(decoding: environment, as: UTF8.self).contains("SITELOC_REPLICATION_PASSWORD"))
        #expect(!String(decoding: environment, as: UTF8.self).contains(replicationSecret))
    }

    /// Replication settings come from the environment of a container: each wrong one is named with the form
    /// expected, exit status 2, and nothing is created. A peer's URL and the password end up in slapd's
    /// configuration, so what could break out of a value there is refused.
    @Test(arguments: [
        (["--peer", "2=ldap://corp2/"], "needs its ID: --server-id N"),
        (["--server-id", "1"], "without peers"),
        (["--server-id", "1", "--peer", "2=ldap://corp2/", "--replication-password-file", "none"], "none"),
        (["--server-id", "1", "--peer", "2=ldap://corp2/"], "needs the replication password"),
        (["--server-id", "5000", "--peer", "2=ldap://corp2/", "--password"], "from 1 to 4095, not 5000"),
        (["--server-id", "1", "--peer", "1=ldap://corp2/", "--password"], "its own ID from 1 to 4095"),
        (["--server-id", "1", "--peer", "2", "--password"], "not of the form ID=URL"),
        (["--server-id", "1", "--peer", "2=ldapi://%2Frun%2Fs", "--password"], "not an ldap:// or ldaps:// URL"),
        (["--server-id", "1", "--peer", "2=ldap://corp2\"x", "--password"], "not an ldap:// or ldaps:// URL"),
        (
            ["--server-id", "1", "--peer", "2=ldap://corp2/ credentials=x", "--password"],
            "'credentials=x' is not of the form ID=URL"
        ),
        (["--server-id", "1", "--peer", "2=ldap://corp2/", "--weak-password"], "at least 8 printable characters"),
    ])
    func serveRefusesBadReplicationSettings(_ arguments: [String], expected: String) async throws {
        try await Self.withFolder { folder in
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: folder + "/strong", contents: Data("a-long-secret".utf8))
            _ = FileManager.default.createFile(atPath: folder + "/weak", contents: Data("has space".utf8))
            let options = arguments.flatMap { argument -> [String] in
                switch argument {
                case "--password": ["--replication-password-file", folder + "/strong"]
                case "--weak-password": ["--replication-password-file", folder + "/weak"]
                default: [argument]
                }
            }
            let data = folder + "/data"
            let run = try await Self.siteloc(
                ["serve", "--forest", "corp.contoso.com", "--data", data, "--admin-password-file", folder + "/strong"]
                    + options
            )
            #expect(run.status == 2, "\(arguments): \(run.error)")
            #expect(run.error.contains(expected), "\(arguments): \(run.error)")
            #expect(!FileManager.default.fileExists(atPath: data), "\(arguments) created \(data)")
        }
    }
}

extension CommandLine {
    /// The demo walks through the example hierarchy; another one is refused before any server starts.
    @Test func theDemoRefusesAnotherHierarchyBeforeStartingAnything() async throws {
        try await Self.withFolder { folder in
            let other = Self.example.replacingOccurrences(of: "contoso.yaml", with: "three-forests.yaml")
            let run = try await Self.siteloc(["demo", "--hierarchy", other, "--dir", folder])
            #expect(run.status == 2, "\(run.error)")
            #expect(run.error.contains("the demo walks through the example hierarchy"), "\(run.error)")
            #expect(!FileManager.default.fileExists(atPath: folder + "/lab.json"))
            #expect(!FileManager.default.fileExists(atPath: folder))
        }
    }
}
