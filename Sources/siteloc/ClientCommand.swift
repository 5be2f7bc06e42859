import ArgumentParser
import CommandLineCore
import Foundation
import LDAPKit
import SiteAssembly
import SiteClient
import SiteLab
import SiteLocation
import SiteModel
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "A Configuration Manager client: finds content through the services and downloads it.",
        subcommands: [ClientGetCommand.self, ClientEnrollCommand.self]
    )
}

struct ClientGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract:
            "Gets a package as a roaming client does: policy, location, the management point's answer, the download.",
        discussion: """
            Everything comes over the network: the directory says where the client is, the management points \
            (siteloc site run serves them) say which distribution points hold the package, and the download \
            resumes where an earlier run stopped — after a roam, from another distribution point — with Range and \
            If-Range on the version. The content's SHA-256 is checked before it enters the cache \
            (<state>/cache/<package>/<hex>). Exit 0 complete, in-cache or run-from-dp; 1 paused, waiting, \
            unavailable or corrupt (the state is kept); 2 bad input; 3 no management point answered.
            """
    )

    @Option(help: "The package, e.g. CEN00002.", transform: { try PackageID($0) })
    var package: PackageID

    @Option(
        help: "The advertisement, whose policy the default management point gives (without it the defaults apply).",
        transform: { try AdvertisementID($0) }
    )
    var advertisement: AdvertisementID?

    @Option(help: "The client's state folder: downloads in progress and the cache.")
    var state: String = ".siteloc/client"

    @Option(help: "At most this many bytes per second (BITS uses idle bandwidth only).")
    var maxRate: Int?

    @Option(
        help: "Seconds for connecting to a service and for each of its answers (default 5).",
        transform: TimeLimit.argument
    )
    var timeout: TimeLimit = .seconds(5)

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let maxRate, maxRate <= 0 {
            throw ValidationError("--max-rate must be a number of bytes per second above 0")
        }
    }

    func run() async throws {
        let model = try loadHierarchy(client.hierarchy)
        let deployment = try Lab(directory: client.labDirectory, logger: .siteloc).deployment(
            for: model,
            directories: try client.directoryURIs.map { try LDAPURI($0) },
            directoryTimeout: client.connectTimeout.duration,
            transport: .folder
        )
        let contentClient = deployment.contentClient(
            state: URL(fileURLWithPath: state),
            timeout: timeout.duration,
            maxRate: maxRate
        )
        let bar = !client.json && isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
        let profile = try client.profile()
        var progress: (@Sendable (Int64, Int64) -> Void)?
        if let bar { progress = { done, size in bar.show(done, of: size) } }
        let result: ClientResult
        do {
            result = try await contentClient.get(
                profile,
                package: package.rawValue,
                advertisement: advertisement?.rawValue,
                progress: progress
            )
        } catch {
            bar?.end()
            throw error
        }
        bar?.end()
        if client.json {
            try printJSON(result)
        } else {
            printLocation(result.content.location)
            print("decision: \(result.content.decision)")
            print("status: \(result.status.rawValue)\(result.path.map { "  \($0)" } ?? "")")
            if let download = result.download {
                print(
                    "download: \(download.transferred) of \(download.size) bytes this run"
                        + (download.resumedFrom > 0 ? ", resumed from byte \(download.resumedFrom)" : "")
                        + (download.restarted ? ", restarted (another version)" : "")
                )
                for source in download.sources {
                    print("  \(source.host)  bytes \(source.from)–\(source.to)  \(source.result)")
                }
            }
        }
        if result.exitStatus != 0 { throw ExitCode(result.exitStatus) }
    }
}

struct ClientEnrollCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Gives a native-mode client a certificate from the lab's certificate authority.",
        discussion: """
            Native-mode sites' management points and distribution points serve HTTPS only and require a client \
            certificate from the lab's authority (mutual TLS). This issues one and keeps it, with the authority the \
            client trusts, in <state>/identity (the key mode 600). A mixed-mode client needs none and never holds one.
            """
    )

    @Option(help: "The client's state folder.")
    var state: String = ".siteloc/client"

    @Option(help: "The client's name in its certificate.")
    var name: String = "siteloc client"

    @Option(name: .customLong("dir"), help: "The lab folder, whose certificate authority issues the certificate.")
    var labDirectory: String = Lab.defaultDirectory

    func run() throws {
        let authority = LabCertificateAuthority(lab: Lab(directory: labDirectory, logger: .siteloc))
        let clientState = ClientState(folder: URL(fileURLWithPath: state))
        try clientState.store(try authority.clientIdentity(for: name))
        print("enrolled '\(name)': certificate and key in \(state)/identity, trusting the lab's certificate authority")
    }
}

/// A one-line progress bar on standard error, for a terminal.
final class ProgressBar: Sendable {
    private let shown = Mutex(-1)

    func show(_ done: Int64, of size: Int64) {
        guard size > 0 else { return }
        let percent = Int(done * 100 / size)
        guard
            shown.withLock({ last in
                defer { last = percent }
                return last != percent
            })
        else { return }
        let width = 30
        let filled = Int(Double(done) / Double(size) * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: max(0, width - filled))
        FileHandle.standardError.write(
            Data(
                String(format: "\r[%@] %3.0f%%  %lld/%lld bytes", bar, Double(done) * 100 / Double(size), done, size)
                    .utf8
            )
        )
    }

    func end() { FileHandle.standardError.write(Data("\n".utf8)) }
}
