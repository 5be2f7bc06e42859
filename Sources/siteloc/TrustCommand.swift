import ArgumentParser
import CommandLineCore
import Foundation
import LDAPKit
import SiteAssembly
import SiteDirectory
import SiteLab
import SiteModel
import SiteTrust

struct TrustCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "The cross-forest rules.",
        subcommands: [TrustCheckCommand.self]
    )
}

struct TrustCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Checks every forest crossing of the hierarchy against the communication and placement rules.",
        discussion: """
            A crossing is a parent/child link between sites of different forests, or a site system in another \
            forest than its site's. Each is checked for server-os, forest-functional-level and \
            no-transitive-trust (one-way-trust is a warning); placements for secondary-site-in-other-forest and \
            role-not-supported-across-forest. With --from-directory, functional levels, trusts and site-server \
            operating systems are read from each forest's directory instead of the file. Exit status 0 when \
            nothing is violated, 1 when something is, 2 for bad input, 3 when a directory cannot be read.
            """
    )

    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Flag(help: "Read functional levels, trusts and server operating systems from each forest's directory.")
    var fromDirectory = false

    @Option(name: .customLong("dir"), help: "The lab folder, for directories the file does not give.")
    var labDirectory: String = Lab.defaultDirectory

    @Option(help: "Seconds each directory URI gets to answer (default 2).", transform: TimeLimit.argument)
    var connectTimeout: TimeLimit = .seconds(2)

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        let model = try loadHierarchy(hierarchy)
        let facts =
            fromDirectory
            ? ForestFacts(
                records: try await readForestRecords(
                    model,
                    lab: Lab(directory: labDirectory, logger: .siteloc),
                    timeout: connectTimeout.duration
                ),
                hierarchy: model
            )
            : ForestFacts(hierarchy: model)
        let report = TrustCheck.check(model, facts: facts)
        if json {
            try printJSON(report)
        } else {
            print(Self.text(report, source: fromDirectory ? "the forests' directories" : hierarchy))
        }
        if !report.ok { throw ExitCode(ExitStatus.problemsFound.rawValue) }
    }

    static func text(_ report: TrustReport, source: String) -> String {
        var lines: [String] = []
        lines.append(
            report.crossings.isEmpty
                ? "no forest crossings: every site and site system is in its site's forest"
                : "\(report.crossings.count) forest crossing(s), checked against \(source):"
        )
        for crossing in report.crossings {
            let kind = crossing.kind == .siteLink ? "site link  " : "site system"
            lines.append("  \(kind) \(crossing.from) → \(crossing.to)  (\(crossing.forests.joined(separator: " → ")))")
        }
        for (title, findings) in [("violation", report.violations), ("warning", report.warnings)] {
            for finding in findings {
                lines.append("\(title): \(finding.rule.rawValue): \(finding.message)")
                lines.append("  fix: \(finding.fix)")
            }
        }
        lines.append(
            report.ok
                ? "ok: no rule is broken\(report.warnings.isEmpty ? "" : " (\(report.warnings.count) warning(s))")"
                : "\(report.violations.count) violation(s)"
        )
        return lines.joined(separator: "\n")
    }
}

/// Reads every forest's record from its directory (the file's URIs, else the lab's); a forest whose directory
/// cannot be read is exit 3, naming it and the URIs tried.
func readForestRecords(_ model: Hierarchy, lab: Lab, timeout: Duration) async throws -> [ForestRecord] {
    var records: [ForestRecord] = []
    let directories = try lab.deployment(for: model, directoryTimeout: timeout, transport: .folder).directories
    for forest in model.forests {
        guard let access = directories[forest.name] else {
            throw CommandFailure.unavailable(
                "no directory for forest \(forest.name): list it under the forest's directory in the file, or start"
                    + " the lab with: siteloc lab up --hierarchy FILE"
            )
        }
        let servers = model.sites.filter { $0.forest == forest.name }.map(\.server)
        do {
            let connection = try await access.connect(logger: .siteloc)
            let record: ForestRecord
            do {
                record = try await ForestRecordReader.read(forest.name, siteServers: servers, on: connection)
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
            records.append(record)
        } catch {
            throw CommandFailure.unavailable(
                "cannot read forest \(forest.name) from its directory (tried "
                    + access.uris.map(\.string).joined(separator: ", ") + "): \(error)"
            )
        }
    }
    return records
}
