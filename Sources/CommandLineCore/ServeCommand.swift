package import ArgumentParser
import DirectoryServing
import Foundation
import LDAPKit
import Logging
import SiteModel

package struct ServeCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run one forest's directory in the foreground (the container image's entrypoint).",
        discussion: """
            Prepares the directory in the data folder (creating it on the first start; on every start applying \
            this version's schema and indexes, the admin password and TLS files, and any LDIF file not loaded \
            before), then replaces itself with slapd. Every option can come from the environment variable named \
            in its help; passwords only from a file or the environment.
            """
    )

    @Option(help: "The forest root domain, e.g. corp.contoso.com. [SITELOC_FOREST]")
    var forest: String?

    @Option(help: "The data folder. [SITELOC_DATA, default /var/lib/siteloc]")
    var data: String?

    @Option(help: "The ldapi socket path. [SITELOC_SOCKET, default <data>/ldapi]")
    var socket: String?

    @Option(help: "A file holding the admin password. [SITELOC_ADMIN_PASSWORD_FILE, or SITELOC_ADMIN_PASSWORD]")
    var adminPasswordFile: String?

    @Option(help: "A folder of LDIF files to load once each, in name order. [SITELOC_LDIF_DIR]")
    var ldifDir: String?

    @Option(
        help:
            "A URL to listen on (repeatable). [SITELOC_LISTEN, space-separated; default ldap:///, plus ldaps:/// with TLS]"
    )
    var listen: [String] = []

    @Option(help: "The server certificate (PEM). [SITELOC_TLS_CERTIFICATE_FILE]")
    var tlsCertificateFile: String?

    @Option(help: "The certificate's private key (PEM). [SITELOC_TLS_KEY_FILE]")
    var tlsKeyFile: String?

    @Option(help: "The open-files limit for slapd. [SITELOC_OPEN_FILES, default 8192]")
    var openFiles: Int?

    @Option(help: "This server's ID in a replicated forest, 1-4095. [SITELOC_SERVER_ID]")
    var serverID: Int?

    @Option(
        name: .customLong("peer"),
        help:
            "Another server of the forest as ID=URL, e.g. 2=ldap://corp2/ (repeatable). [SITELOC_PEERS, space-separated]"
    )
    var peers: [String] = []

    @Option(
        help:
            "A file holding the replication identity's password, the same at every server of the forest. [SITELOC_REPLICATION_PASSWORD_FILE, or SITELOC_REPLICATION_PASSWORD]"
    )
    var replicationPasswordFile: String?

    package init() {}

    package func run() async throws {
        let setting = optionOrEnvironment
        guard let forestText = setting(forest, "SITELOC_FOREST") else {
            throw CommandFailure.badInput("name the forest: --forest corp.contoso.com or SITELOC_FOREST")
        }
        let forestName = try ForestName(forestText)
        let certificate = setting(tlsCertificateFile, "SITELOC_TLS_CERTIFICATE_FILE")
        let key = setting(tlsKeyFile, "SITELOC_TLS_KEY_FILE")
        guard (certificate == nil) == (key == nil) else {
            throw CommandFailure.badInput(
                "TLS needs both a certificate and its key (--tls-certificate-file and --tls-key-file)"
            )
        }
        for file in [certificate, key].compactMap(\.self) where !FileManager.default.isReadableFile(atPath: file) {
            throw CommandFailure.badInput("cannot read the TLS file \(file)")
        }
        var listeners =
            listen.isEmpty ? (setting(nil, "SITELOC_LISTEN")?.split(separator: " ").map(String.init) ?? []) : listen
        if listeners.isEmpty { listeners = certificate == nil ? ["ldap:///"] : ["ldap:///", "ldaps:///"] }
        let openFilesText = setting(openFiles.map(String.init), "SITELOC_OPEN_FILES") ?? "8192"
        guard let openFilesLimit = Int(openFilesText), openFilesLimit >= 64 else {
            throw CommandFailure.badInput(
                "the open-files limit must be a whole number of at least 64, not '\(openFilesText)'"
            )
        }
        let password: Secret?
        if let file = setting(adminPasswordFile, "SITELOC_ADMIN_PASSWORD_FILE") {
            password = try Secret(contentsOf: URL(fileURLWithPath: file))
        } else {
            password = EnvironmentSecrets.values["SITELOC_ADMIN_PASSWORD"]
        }

        let replication = try replicationSettings()
        let settings = DirectoryServer.Settings(
            forest: forestName,
            dataFolder: setting(data, "SITELOC_DATA") ?? "/var/lib/siteloc",
            socketPath: setting(socket, "SITELOC_SOCKET"),
            adminPassword: password,
            ldifFolder: setting(ldifDir, "SITELOC_LDIF_DIR"),
            listeners: listeners,
            tlsCertificateFile: certificate,
            tlsKeyFile: key,
            openFiles: openFilesLimit,
            replication: replication
        )
        let preparation = try await DirectoryServer(settings: settings, logger: .siteloc).prepare()
        var report = preparation.changes.map { "siteloc: \($0)\n" }.joined()
        report += "siteloc: \(forestName) ready; running \(preparation.command.joined(separator: " "))\n"
        FileHandle.standardError.write(Data(report.utf8))
        DirectoryServer.exec(preparation.command)
    }

    /// Replication with the forest's other servers when peers are named (docs/replication.md, "The container
    /// image"): the server ID and the replication password are then required.
    private func replicationSettings() throws -> DirectoryServer.Replication? {
        let setting = optionOrEnvironment
        let peerText = peers.isEmpty ? (setting(nil, "SITELOC_PEERS") ?? "") : peers.joined(separator: " ")
        let idText = setting(serverID.map(String.init), "SITELOC_SERVER_ID")
        let passwordFile = setting(replicationPasswordFile, "SITELOC_REPLICATION_PASSWORD_FILE")
        let environmentPassword = EnvironmentSecrets.values["SITELOC_REPLICATION_PASSWORD"]
        guard !peerText.trimmingCharacters(in: .whitespaces).isEmpty else {
            if idText != nil || passwordFile != nil || environmentPassword != nil {
                throw CommandFailure.badInput(
                    "a server ID or replication password without peers: name the forest's other servers with "
                        + "--peer ID=URL or SITELOC_PEERS=\"2=ldap://corp2/\""
                )
            }
            return nil
        }
        guard let idText, let id = Int(idText) else {
            throw CommandFailure.badInput(
                "a replicated server needs its ID: --server-id N or SITELOC_SERVER_ID=N (1-4095, unique in the forest)"
            )
        }
        let password: Secret
        if let passwordFile {
            password = try Secret(contentsOf: URL(fileURLWithPath: passwordFile))
        } else if let environmentPassword {
            password = environmentPassword
        } else {
            throw CommandFailure.badInput(
                "a replicated server needs the replication password: --replication-password-file FILE or "
                    + "SITELOC_REPLICATION_PASSWORD_FILE (the same at every server of the forest)"
            )
        }
        return try DirectoryServer.Replication(
            serverID: id,
            peers: try DirectoryServer.Replication.peers(from: peerText),
            password: password
        )
    }
}
