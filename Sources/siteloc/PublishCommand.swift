import ArgumentParser
import CommandLineCore
import Foundation
import Glibc
import HierarchyFile
import LDAPKit
import Logging
import SiteAssembly
import SiteDirectory
import SiteLab
import SiteModel
import SiteServer

/// Reads a hierarchy file; errors are bad input (exit 2), listed like `validate` lists them.
func loadHierarchy(_ file: String) throws -> Hierarchy {
    let result = HierarchyReader.read(file: file)
    guard result.errors.isEmpty else {
        let lines = result.errors.map { "\(file):\($0.location.line):\($0.location.column): error: \($0.message)" }
        throw CommandFailure.badInput(
            "the hierarchy file has \(result.errors.count) error(s); nothing was changed:\n"
                + lines.joined(separator: "\n")
        )
    }
    return result.hierarchy
}

/// Where a forest's directory is and who a site is there (docs/command-line.md, "Where the directory is").
struct DirectoryOptions: ParsableArguments {
    @Option(name: .customLong("dir"), help: "The lab folder, for directories and identities the file does not give.")
    var labDirectory: String = Lab.defaultDirectory

    @Option(
        name: .customLong("directory"),
        help: "A directory URI to use instead of the file's or the lab's (repeatable)."
    )
    var directoryURIs: [String] = []

    @Option(help: "A folder of <site code>.password files for the site identities (default: the lab's).")
    var identities: String?

    @Option(
        help: "Seconds to wait for each directory server to connect and for each answer (default 10).",
        transform: TimeLimit.argument
    )
    var timeout: TimeLimit = .seconds(10)

    func connector(for hierarchy: Hierarchy, logger: Logger) throws -> Publisher.Connector {
        let uris = try directoryURIs.map { try LDAPURI($0) }
        return try Lab(directory: labDirectory, logger: logger)
            .deployment(for: hierarchy, directories: uris, identities: identities, transport: .folder)
            .siteConnector(timeout: timeout.duration)
    }
}

/// What `publish` and `unpublish` share.
struct PublishOptions: ParsableArguments {
    @Flag(help: "Print the changes as LDIF; change nothing.")
    var dryRun = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var directory: DirectoryOptions
}

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish sites into their forests' directories, each with its own identity, as a diff.",
        discussion: """
            Reads what the directory holds for each site and adds, replaces and deletes only what differs from the \
            hierarchy file, so a second run changes nothing. A site with publish: false ends with no objects. \
            Objects of other sites are never touched. --dry-run prints the changes as LDIF and writes nothing.
            """
    )

    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Option(help: "Only this site.")
    var site: String?

    @OptionGroup var options: PublishOptions

    func run() async throws {
        try await publish(unpublish: false, hierarchyFile: hierarchy, siteCode: site, options: options)
    }
}

struct UnpublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpublish",
        abstract: "Remove a site's objects from its forest's directory (with the site's own identity)."
    )

    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Option(help: "The site.")
    var site: String

    @OptionGroup var options: PublishOptions

    func run() async throws {
        try await publish(unpublish: true, hierarchyFile: hierarchy, siteCode: site, options: options)
    }
}

private func publish(unpublish: Bool, hierarchyFile: String, siteCode: String?, options: PublishOptions) async throws {
    let dryRun = options.dryRun
    let json = options.json
    let directory = options.directory
    let hierarchy = try loadHierarchy(hierarchyFile)
    var sites = hierarchy.sites
    if let siteCode {
        guard let code = try? SiteCode(siteCode), let site = hierarchy.site(code) else {
            throw CommandFailure.badInput(
                "site \(siteCode) is not in \(hierarchyFile); expected one of \(hierarchy.sites.map(\.code.rawValue).joined(separator: ", "))"
            )
        }
        sites = [site]
    }
    let connect = try directory.connector(for: hierarchy, logger: .siteloc)
    let sitesDirectory = Lab(directory: directory.labDirectory, logger: .siteloc).sitesDirectory
    let showProgress = isatty(STDERR_FILENO) == 1 && !json && sites.count > 1
    let total = sites.count
    var progress: (@Sendable (Int) -> Void)?
    if showProgress {
        progress = { done in
            FileHandle.standardError.write(Data("\rpublishing: \(done)/\(total) sites".utf8))
        }
    }
    let reports: [Publisher.SiteReport]
    let runProgress = progress
    do {
        reports = try await Publisher.run(
            sites,
            in: hierarchy,
            unpublish: unpublish,
            dryRun: dryRun,
            connect: connect,
            publicKey: { code in
                SiteFolders(site: code, sitesDirectory: sitesDirectory).readPublicKey()?.published
            },
            progress: runProgress
        )
    } catch let failure as any KindedError {
        throw failure
    } catch {
        throw CommandFailure(
            kind: CommandOutcome.kind(of: error),
            description: "\(unpublish ? "unpublishing" : "publishing") stopped: \(error); run it again to finish"
        )
    }
    if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    if json {
        try printJSON(reports.map(PublishReport.init))
        return
    }
    if dryRun {
        for report in reports where !report.changes.isEmpty {
            print("# site \(report.site)")
            print(LDIFWriter.ldif(report.changes))
        }
    }
    for report in reports {
        let verb = dryRun ? "would be" : ""
        let summary =
            report.changes.isEmpty
            ? "no change"
            : "\(report.added) added, \(report.modified) changed, \(report.deleted) deleted"
                + (dryRun ? " (\(verb) made)" : "")
        let note = report.publishes ? "" : "  (does not publish)"
        print("\(dryRun ? "# " : "")\(report.site)  \(summary)\(note)")
    }
}

/// The JSON of `publish --json`.
struct PublishReport: Encodable {
    let site: String
    let publishes: Bool
    let added: Int
    let changed: Int
    let deleted: Int

    init(_ report: Publisher.SiteReport) {
        site = report.site.rawValue
        publishes = report.publishes
        added = report.added
        changed = report.modified
        deleted = report.deleted
    }
}
