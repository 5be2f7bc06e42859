import ArgumentParser
import CommandLineCore
import Foundation
import LDAPKit
import Logging
import SiteLab
import SiteModel

struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Run private directories (one slapd per forest) on this machine.",
        subcommands: [Up.self, Status.self, Down.self]
    )

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a directory for each forest, or reuse the ones already running.",
            discussion: """
                Each forest gets its own slapd (from the system's slapd package) on a free loopback port and an \
                ldapi socket, with the siteloc schema, its base tree, and an admin identity (cn=admin,<suffix>) \
                whose random password is in <dir>/<forest>/admin.password. Anyone may read; only the admin writes.
                """
        )

        @Option(
            name: .customLong("forest"),
            help: "A forest root domain, such as corp.contoso.com (repeatable; without it, restarts the lab's forests)."
        )
        var forests: [String] = []

        @Option(help: "A hierarchy file: its forests, with trusts, functional levels and site-server identities.")
        var hierarchy: String?

        @Option(
            help: """
                Directory servers per forest: N multi-provider slapd that replicate each other (docs/replication.md).                 Without it a forest keeps the number it has (one when new); a forest never shrinks.
                """
        )
        var replicas: Int?

        @OptionGroup var lab: LabDirectoryOption

        @Flag(help: "Print the result as JSON.")
        var json = false

        func validate() throws {
            for forest in forests {
                do { _ = try ForestName(forest) } catch { throw ValidationError(error.description) }
            }
            if let replicas, !(1...9).contains(replicas) {
                throw ValidationError("--replicas must be a number from 1 to 9, not \(replicas)")
            }
        }

        func run() async throws {
            let names = try forests.map { try ForestName($0) }
            let labFolder = Lab(directory: lab.directory, logger: .siteloc)
            if let hierarchy {
                let model = try loadHierarchy(hierarchy)
                let results: [LabForestStatus]
                results = try await labFolder.up(hierarchy: model, replicas: replicas)
                if !names.isEmpty { _ = try await labFolder.up(forests: names, replicas: replicas) }
                try report(results)
                if !json {
                    for forest in model.forests {
                        guard let kdc = labFolder.kerberosStatus(of: forest.name) else { continue }
                        print(
                            "kdc  \(kdc.realm)  127.0.0.1:\(kdc.port)  (krb5.conf \(labFolder.kerberosConfigurationFile))"
                        )
                    }
                }
                if !json, let shares = labFolder.fileShares() {
                    print(
                        "smb  127.0.0.1:\(shares.port)  pid \(shares.pid.map(String.init) ?? "-")  shares SMS_<CODE> for "
                            + "\(model.sites.count) site server inboxes in \(labFolder.sitesDirectory.path)"
                    )
                }
                return
            }
            if names.isEmpty && labFolder.forests().isEmpty {
                throw CommandFailure.badInput(
                    "no lab in \(lab.directory) yet: name at least one forest, e.g. --forest corp.contoso.com"
                )
            }
            let results = try await labFolder.up(forests: names, replicas: replicas)
            try report(results)
        }

        private func report(_ results: [LabForestStatus]) throws {
            if json { return try printJSON(results.map(LabForestReport.init)) }
            for result in results {
                let forest = result.forest
                print(
                    "\(forest.name)  \(result.reused ? "already up" : "started")  pid \(forest.pid.map(String.init) ?? "-")"
                )
                for server in forest.servers {
                    let label = forest.servers.count > 1 ? "uri \(server.serverID)  " : "uri     "
                    print("  \(label)\(server.uri)  pid \(server.pid.map(String.init) ?? "-")")
                }
                print("  ldapi   \(forest.ldapiURI)")
                print("  suffix  \(forest.suffix)")
                print("  admin   \(forest.adminDN)  (password in \(forest.passwordFile))")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the lab's directories and whether they answer.")

        @OptionGroup var lab: LabDirectoryOption

        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() async throws {
            let labFolder = Lab(directory: lab.directory, logger: .siteloc)
            let results = await labFolder.status()
            let systems = labFolder.systems()
            if json {
                return try printJSON(
                    LabStatusReport(
                        forests: results.map(LabForestReport.init),
                        fileShares: labFolder.fileShares().map {
                            .init(port: $0.port, running: labFolder.fileSharesRunning())
                        },
                        systems: systems.map {
                            .init(host: $0.host, site: $0.site, roles: $0.roles, url: $0.url)
                        }
                    )
                )
            }
            if results.isEmpty {
                print("no lab in \(lab.directory); start one with: siteloc lab up --forest corp.contoso.com")
                return
            }
            for result in results {
                let replicated = result.servers.count > 1
                if replicated {
                    print("\(result.forest.name)  \(result.inSync ? "in sync" : "not in sync")")
                }
                for server in result.servers {
                    let state = server.answering ? "up" : server.running ? "running, not answering" : "down"
                    print(
                        (replicated ? "  \(server.server.serverID)  " : "\(result.forest.name)  ")
                            + "\(state)  \(server.server.uri)  pid \(server.running ? server.server.pid.map(String.init) ?? "-" : "-")"
                            + (replicated ? "  contextCSN \(server.contextCSN.joined(separator: " "))" : "")
                    )
                }
                if replicated && !result.inSync, let lag = result.lag {
                    print("  \(lag)")
                }
                if let kdc = labFolder.kerberosStatus(of: result.forest.name) {
                    print("  kdc  \(kdc.running ? "up" : "down")  \(kdc.realm)  127.0.0.1:\(kdc.port)")
                }
            }
            if let shares = labFolder.fileShares() {
                let running = labFolder.fileSharesRunning()
                print(
                    "smb  \(running ? "up" : "down")  127.0.0.1:\(shares.port)  pid \(running ? shares.pid.map(String.init) ?? "-" : "-")"
                )
            }
            for system in systems {
                print("\(system.host)  \(system.site)  \(system.roles.joined(separator: ","))  \(system.url)")
            }
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the lab's directories (their data stays for the next `lab up`).",
            discussion: "Each slapd is stopped by the pid the lab recorded, and the command waits until it has ended."
        )

        @OptionGroup var lab: LabDirectoryOption

        func run() async throws {
            let stopped = try await Lab(directory: lab.directory, logger: .siteloc).down()
            if stopped.isEmpty {
                print("nothing running in \(lab.directory)")
            }
            for forest in stopped { print("\(forest.name)  stopped") }
        }
    }
}

/// The JSON of `lab status --json`: the directories, the file shares and the site systems listening now.
struct LabStatusReport: Encodable {
    struct FileShares: Encodable {
        var port: Int
        var running: Bool
    }

    struct System: Encodable {
        var host: String
        var site: String
        var roles: [String]
        var url: String
    }

    var forests: [LabForestReport]
    var fileShares: FileShares?
    var systems: [System]
}

/// A forest's directory in `lab up --json` and `lab status --json`.
struct LabForestReport: Encodable {
    let forest: String
    let suffix: String
    let uri: String
    let ldapiURI: String
    let adminDN: String
    let passwordFile: String
    let pid: Int32?
    let running: Bool
    let answering: Bool
    let servers: [Server]
    let inSync: Bool
    /// While not in sync: how far the furthest-behind provider's newest change trails the newest anywhere.
    let lag: String?

    struct Server: Encodable {
        let serverID: Int
        let uri: String
        let ldapiURI: String
        let pid: Int32?
        let running: Bool
        let answering: Bool
        let contextCSN: [String]
    }

    init(_ status: LabForestStatus) {
        forest = status.forest.name.rawValue
        suffix = status.forest.suffix
        uri = status.forest.uri
        ldapiURI = status.forest.ldapiURI
        adminDN = status.forest.adminDN
        passwordFile = status.forest.passwordFile
        pid = status.running ? status.forest.pid : nil
        running = status.running
        answering = status.answering
        servers = status.servers.map {
            Server(
                serverID: $0.server.serverID,
                uri: $0.server.uri,
                ldapiURI: $0.server.ldapiURI,
                pid: $0.running ? $0.server.pid : nil,
                running: $0.running,
                answering: $0.answering,
                contextCSN: $0.contextCSN
            )
        }
        inSync = status.inSync
        lag = status.inSync ? nil : status.lag
    }
}
