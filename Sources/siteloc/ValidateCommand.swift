import ArgumentParser
import CommandLineCore
import Foundation
import HierarchyFile
import SiteModel

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a hierarchy file: every error at once, with file:line:column, then the warnings.",
        discussion: "Errors exit 2 and warnings exit 0 (1 with --strict). Nothing is changed anywhere."
    )

    @Option(help: "The hierarchy file (YAML).")
    var hierarchy: String

    @Flag(help: "Warnings count as problems: exit 1 when there are any.")
    var strict = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let result = HierarchyReader.read(file: hierarchy)
        if json {
            try printJSON(ValidationReport(file: hierarchy, result: result))
        } else {
            for problem in result.problems {
                print(
                    "\(hierarchy):\(problem.location.line):\(problem.location.column): \(problem.severity.rawValue): \(problem.message)"
                )
            }
            let sites = result.hierarchy.sites.count
            print(
                "\(hierarchy): \(result.errors.count) error\(result.errors.count == 1 ? "" : "s"), "
                    + "\(result.warnings.count) warning\(result.warnings.count == 1 ? "" : "s") (\(sites) sites)"
            )
        }
        if !result.errors.isEmpty { throw ExitCode(ExitStatus.badInput.rawValue) }
        if strict && !result.warnings.isEmpty { throw ExitCode(ExitStatus.problemsFound.rawValue) }
    }
}

/// The JSON of `validate --json`.
struct ValidationReport: Encodable {
    struct Problem: Encodable {
        let line: Int
        let column: Int
        let message: String
    }

    let file: String
    let ok: Bool
    let errors: [Problem]
    let warnings: [Problem]

    init(file: String, result: HierarchyReader.Result) {
        self.file = file
        ok = result.errors.isEmpty
        errors = result.errors.map { Problem(line: $0.location.line, column: $0.location.column, message: $0.message) }
        warnings = result.warnings.map {
            Problem(line: $0.location.line, column: $0.location.column, message: $0.message)
        }
    }
}
