import ArgumentParser
import CommandLineCore
import DirectorySchema
import Foundation
import LDAPKit
import Logging
import SiteDirectory

struct SchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "The directory schema: the Configuration Manager extension, the AD classes it needs, siteloc's own.",
        subcommands: [Print.self, Install.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case ldif, schema, indexes
    }

    struct Print: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the schema as cn=config LDIF, as a slapd.conf .schema file, or the index change.",
            discussion: "These are the files in Schema/ (siteloc.ldif, siteloc.schema, siteloc-indexes.ldif)."
        )

        @Option(help: "ldif (for cn=config), schema (for slapd.conf) or indexes (an ldapmodify change).")
        var format: Format = .ldif

        func run() {
            switch format {
            case .ldif: Swift.print(DirectorySchema.ldif, terminator: "")
            case .schema: Swift.print(DirectorySchema.slapdSchema, terminator: "")
            case .indexes:
                Swift.print(DirectorySchema.indexLDIF(database: "olcDatabase={1}mdb,cn=config"), terminator: "")
            }
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load the schema into a running slapd (like extadsch.exe), and add its indexes.",
            discussion: """
                Over ldapi:// it binds with SASL EXTERNAL (run it as the user slapd grants cn=config to, usually \
                root). Otherwise give --bind-dn (the cn=config root DN, such as cn=admin,cn=config) and the \
                password in --password-file or the SITELOC_BIND_PASSWORD environment variable. Running it again \
                changes nothing; a newer schema version replaces the definitions.
                """
        )

        @Option(
            help:
                "The directory, e.g. ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi or ldap://127.0.0.1:389. [SITELOC_DIRECTORY_URI]"
        )
        var uri: String?

        @Option(help: "The DN to bind as (not needed over ldapi). [SITELOC_BIND_DN]")
        var bindDN: String?

        @Option(help: "A file holding the bind password. [SITELOC_BIND_PASSWORD_FILE]")
        var passwordFile: String?

        @Flag(help: "Leave the databases' indexes alone.")
        var noIndexes = false

        func run() async throws {
            let uriText = optionOrEnvironment(uri, "SITELOC_DIRECTORY_URI")?.split(separator: " ").first.map(
                String.init
            )
            guard let uriText else {
                throw CommandFailure.badInput("name the directory: --uri ldap://HOST[:PORT] or SITELOC_DIRECTORY_URI")
            }
            let target: LDAPURI
            target = try LDAPURI(uriText)
            let credential: DirectoryCredential
            if let bindDN = optionOrEnvironment(bindDN, "SITELOC_BIND_DN") {
                let dn = try DistinguishedName(parsing: bindDN)
                let file = optionOrEnvironment(passwordFile, "SITELOC_BIND_PASSWORD_FILE")
                credential = .password(dn: dn, try readPassword(file: file))
            } else if target.scheme == .ldapi {
                credential = .transportIdentity
            } else {
                throw CommandFailure.badInput(
                    "--bind-dn is needed for \(target.scheme.rawValue):// (only ldapi:// can use SASL EXTERNAL)"
                )
            }
            do {
                let connection = try await DirectoryAccess(
                    uris: [target],
                    credential: credential,
                    operationTimeout: .seconds(30)
                )
                .connect(logger: .siteloc)
                let outcome = try await SchemaInstallation.install(
                    on: connection,
                    indexes: !noIndexes,
                    logger: .siteloc
                )
                await connection.close()
                switch outcome {
                case .installed: Swift.print("schema version \(DirectorySchema.version) installed on \(target)")
                case .updated: Swift.print("schema updated to version \(DirectorySchema.version) on \(target)")
                case .alreadyCurrent:
                    Swift.print("schema version \(DirectorySchema.version) already installed on \(target)")
                }
            } catch {
                throw CommandFailure(context: "cannot install the schema", error)
            }
        }
    }
}

/// Reads a password from `--password-file` or, failing that, `SITELOC_BIND_PASSWORD`; never from a flag value.
func readPassword(file: String?) throws -> Secret {
    if let file {
        return try Secret(contentsOf: URL(fileURLWithPath: file))
    }
    if let value = EnvironmentSecrets.values["SITELOC_BIND_PASSWORD"] { return value }
    throw CommandFailure.badInput("a password is needed: give --password-file FILE or set SITELOC_BIND_PASSWORD")
}
