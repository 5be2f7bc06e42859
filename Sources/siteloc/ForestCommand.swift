import ArgumentParser
import CommandLineCore
import Foundation
import SiteDirectory
import SiteModel

struct ForestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forest",
        abstract: "What Active Directory would already hold in a forest, for directories siteloc does not start.",
        subcommands: [ForestLDIFCommand.self]
    )
}

struct ForestLDIFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ldif",
        abstract: "Prints the LDIF of a forest's functional level, trusts and site-server computer entries.",
        discussion: """
            `siteloc lab up --hierarchy FILE` writes these itself. For a container, put the output in the \
            forest's LDIF folder (Docker/ldif/<forest>/), which the container loads once on its first start; then \
            `siteloc trust check --from-directory` can read the forest. The computer entries carry no password: \
            give each site server's identity one as the admin before it publishes.
            """
    )

    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Option(help: "The forest, e.g. fabrikam.com.")
    var forest: String

    func run() throws {
        let model = try loadHierarchy(hierarchy)
        guard let name = try? ForestName(forest), let found = model.forest(name) else {
            throw CommandFailure.badInput(
                "forest '\(forest)' is not in \(hierarchy); expected one of "
                    + model.forests.map(\.name.rawValue).joined(separator: ", ")
            )
        }
        print(LDIFWriter.ldif(ForestProvisioning.changes(for: found, in: model)), terminator: "")
    }
}
