import ArgumentParser
import CommandLineCore

/// The container image's binary, installed there as `siteloc`: only `siteloc serve`, built without what the rest
/// of siteloc needs (HTTP, SQLite, cryptography), so that its static build takes minutes, not a quarter of an hour.
@main
struct SitelocServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siteloc",
        abstract: "Run one forest's directory (the siteloc container image).",
        discussion: "Exit status: 0 done; 2 bad input; 3 the directory could not be prepared.",
        subcommands: [ServeCommand.self]
    )

    static func main() async { await runAsExecutable() }
}
