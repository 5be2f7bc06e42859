import ArgumentParser
import CommandLineCore
import Foundation
import SiteLab
import SiteModel
import SiteRouting
import SiteServer

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Exchanges public keys by hand between sites the directory cannot introduce to each other.",
        discussion: """
            Like preinst /keyforparent and /keyforchild: export a site's public key to a file, carry it to the \
            neighbour, import it there. Needed when the two sites are in different forests, or one does not \
            publish; sites of one forest find each other's keys in the directory.
            """,
        subcommands: [KeysExportCommand.self, KeysImportCommand.self]
    )
}

struct KeysExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Writes a site's public key to a key file."
    )

    @OptionGroup var options: SiteOptions

    @Option(help: "The key file to write; standard output when not given.")
    var output: String?

    func run() throws {
        let (_, site) = try options.load()
        let folders = SiteFolders(site: site.code, sitesDirectory: options.lab.sitesDirectory)
        guard let key = folders.readPublicKey() else {
            throw CommandFailure.badInput(
                "site \(site.code) has no key in \(folders.keys.path); create it with: siteloc site init --site \(site.code)"
            )
        }
        let data = SiteKeyFile(site: site.code, forest: site.forest, key: key).encoded()
        guard let output else {
            print(String(decoding: data, as: UTF8.self))
            return
        }
        guard FileManager.default.createFile(atPath: output, contents: data + Data("\n".utf8)) else {
            throw CommandFailure.badInput("cannot write the key file \(output)")
        }
        print("wrote the public key of \(site.code) (fingerprint \(key.fingerprint)) to \(output)")
    }
}

struct KeysImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Imports another site's key file at a site (--site is the receiving site).",
        discussion: """
            A neighbour's key verifies the jobs it hands over (needed across a forest boundary, where the directory \
            cannot carry it); any site's key lets this site check the origin signature of the packages it creates.
            """
    )

    @OptionGroup var options: SiteOptions

    @Option(help: "The key file written by `siteloc keys export` at the other site.")
    var file: String

    func run() throws {
        let (model, site) = try options.load()
        let folders = SiteFolders(site: site.code, sitesDirectory: options.lab.sitesDirectory)
        let (from, key) = try folders.importKey(from: URL(fileURLWithPath: file), knownIn: model)
        print("imported the key of \(from) (fingerprint \(key.fingerprint)) at \(site.code)")
    }
}

struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Sends something from its source site.",
        subcommands: [SendPackageCommand.self]
    )
}

struct SendPackageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package",
        abstract:
            "Queues a package at its source site: one signed job for every site whose distribution points it lists.",
        discussion: """
            The content is copied into the source site's content library (--content, once; later sends reuse it) \
            and placed on the source site's own distribution points. The source site's server then delivers each \
            job hop by hop; `siteloc site status` shows the progress.
            """
    )

    @Argument(help: "The package id, e.g. CEN00001.", transform: { try PackageID($0) })
    var id: PackageID

    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Option(help: "The package content (a file).")
    var content: String?

    @Option(help: "The jobs' priority: high, medium or low.", transform: oneOf)
    var priority: SiteRouting.JobPriority = .medium

    @Option(name: .customLong("dir"), help: "The lab folder.")
    var labDirectory: String = Lab.defaultDirectory

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let model = try loadHierarchy(hierarchy)
        let sent = try PackageSending.send(
            id.rawValue,
            hierarchy: model,
            sitesDirectory: Lab(directory: labDirectory, logger: .siteloc).sitesDirectory,
            content: content.map { URL(fileURLWithPath: $0) },
            priority: priority
        )
        if json {
            try printJSON(sent)
            return
        }
        print(
            "package \(sent.package) at \(sent.source): placed on "
                + (sent.placedAtSource.isEmpty
                    ? "no distribution point of \(sent.source)" : sent.placedAtSource.joined(separator: ", "))
        )
        for job in sent.jobs {
            print("  job \(job.id) → \(job.destination) via \(job.route.joined(separator: " → "))")
        }
    }
}

struct CourierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "courier",
        abstract: "Courier parcels: packages carried by hand.",
        subcommands: [CourierImportCommand.self]
    )
}

struct CourierImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Takes a parcel into a site's inbox (--site is the receiving site); its site server verifies it."
    )

    @OptionGroup var options: SiteOptions

    @Option(help: "The parcel file written by the courier sender.")
    var file: String

    func run() throws {
        let (_, site) = try options.load()
        let folders = SiteFolders(site: site.code, sitesDirectory: options.lab.sitesDirectory)
        let header = try PackageSending.importParcel(URL(fileURLWithPath: file), into: folders)
        print("parcel \(header.id) (package \(header.package), from \(header.signer)) is in the inbox of \(site.code)")
    }
}
