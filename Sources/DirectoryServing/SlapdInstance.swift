import DirectorySchema
package import Foundation
import Glibc
package import LDAPKit
package import Logging
package import SiteDirectory
import SiteModel
import SystemCalls

/// One forest's slapd in a folder of its own: `slapd.d` (cn=config), `db`, `slapd.log`, `admin.password` and,
/// unless placed elsewhere, the ldapi socket. Both the lab and `siteloc serve` run their directories through it.
package struct SlapdInstance {
    /// The line written into the log before each start, so that errors show only the latest attempt.
    package static let startMarker = "--- siteloc: starting slapd"

    package let layout: DirectoryLayout
    package let folder: String
    package let socketPath: String
    package let tools: SlapdTools
    package let logger: Logger

    package init(layout: DirectoryLayout, folder: String, socketPath: String, tools: SlapdTools, logger: Logger) {
        self.layout = layout
        self.folder = folder
        self.socketPath = socketPath
        self.tools = tools
        self.logger = logger
    }

    package var configFolder: String { folder + "/slapd.d" }
    package var passwordFile: String { folder + "/admin.password" }
    package var logFile: String { folder + "/slapd.log" }
    package var ldapiURI: LDAPURI { .ldapi(socketPath: socketPath) }
    package var isInitialized: Bool { FileManager.default.fileExists(atPath: configFolder + "/cn=config.ldif") }

    /// Builds the folder: the admin password (0600), cn=config with the schema via `slapadd -n0`, the database.
    package func initialize(password: String, serverID: Int = 1) async throws(LabError) {
        try PrivateFiles.createFolder(folder)
        try PrivateFiles.createFolder(configFolder)
        try PrivateFiles.createFolder(folder + "/db")
        try PrivateFiles.write(passwordFile, password)
        try PrivateFiles.write(folder + "/siteloc.ldif", DirectorySchema.ldif)
        let configuration = SlapdConfiguration(
            layout: layout,
            folder: folder,
            passwordHash: try await passwordHash(),
            serverID: serverID,
            uid: getuid(),
            gid: getgid()
        )
        let configLDIF = folder + "/config.ldif"
        try PrivateFiles.write(configLDIF, configuration.ldif)
        defer { try? FileManager.default.removeItem(atPath: configLDIF) }  // it holds the password hash
        _ = try await ProcessControl.run(tools.slapadd, ["-n0", "-F", configFolder, "-l", configLDIF])
    }

    /// The `{SSHA}` hash of the password file; `-T` reads the file, so the password never is on a command line.
    package func passwordHash(of file: String? = nil) async throws(LabError) -> String {
        try await ProcessControl.run(tools.slappasswd, ["-n", "-T", file ?? passwordFile])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts slapd in a session of its own, listening on `listeners` and the ldapi socket; returns its pid.
    package func start(listeners: [String]) throws(LabError) -> pid_t {
        // A slapd that died leaves its socket and pid file behind.
        try? FileManager.default.removeItem(atPath: socketPath)
        try? FileManager.default.removeItem(atPath: folder + "/slapd.pid")
        PrivateFiles.append(
            logFile,
            "\(Self.startMarker) for \(layout.forest), listening on \(listeners.joined(separator: " "))"
        )
        return try ProcessControl.spawnDetached(
            tools.slapd,
            arguments(listeners: listeners),
            logFile: logFile,
            environment: ["KRB5_KTNAME": "FILE:" + keytabFile, "KRB5_CONFIG": kerberosConfigurationFile]
        )
    }

    /// The keys of this server's service principal (`ldap/<its name>`), read by slapd's GSSAPI when a client binds;
    /// written by ``KerberosRealm`` when the forest has a KDC.
    package var keytabFile: String { folder + "/kerberos/ldap.keytab" }
    /// The Kerberos configuration slapd runs with: its own realm as the default, so that its own machines' names
    /// come without `@REALM` (docs/kerberos.md).
    package var kerberosConfigurationFile: String { folder + "/kerberos/krb5.conf" }

    /// slapd's command line: foreground, errors only on standard error, the listeners and the ldapi socket.
    package func arguments(listeners: [String]) -> [String] {
        let urls = listeners.map { $0.hasSuffix("/") ? $0 : $0 + "/" } + [ldapiURI.string + "/"]
        return ["-d", "none", "-h", urls.joined(separator: " "), "-F", configFolder]
    }

    /// Polls the ldapi socket until slapd answers; false when slapd exited (its log says why).
    package func waitUntilAnswering(pid: pid_t, within limit: Duration = .seconds(15)) async throws(LabError) -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if !ProcessControl.isAlive(pid) { return false }
            let probe = DirectoryAccess(uris: [ldapiURI], timeout: .milliseconds(500), operationTimeout: .seconds(30))
            if let connection = try? await probe.connect(logger: logger) {
                await connection.close()
                return true
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        await ProcessControl.stop(pid)
        throw LabError(
            "slapd for forest \(layout.forest) started but did not answer within \(limit). The end of its log (\(logFile)):\n"
                + lastLog
        )
    }

    /// What slapd logged since it was last started.
    package var lastLog: String { ProcessControl.tail(logFile, after: Self.startMarker) }

    /// Brings the schema and indexes up to date (as the local owner, over ldapi) and adds the base tree that is
    /// missing (as the admin), with the replication identity when its password hash is given. A replica that
    /// fills itself from a peer adds no entry (`baseTree` false): entries made on two providers independently
    /// would collide when they meet.
    @discardableResult
    package func provision(
        baseTree: Bool = true,
        replicatorHash: String? = nil
    ) async throws(LabError)
        -> SchemaInstallation.Outcome
    {
        do {
            let owner = try await connect(as: .localOwner)
            let outcome = try await SchemaInstallation.install(on: owner, logger: logger)
            try await enforceAccessControl(owner)
            await owner.close()
            guard baseTree else { return outcome }
            let admin = try await connect(as: .admin)
            for entry in layout.baseTree {
                try await Self.addIfAbsent(entry.dn, entry.attributes, on: admin)
            }
            if let replicatorHash {
                try await Self.addIfAbsent(
                    ReplicationSettings.identity(layout),
                    [
                        LDAPAttribute(SchemaAttribute.objectClass, ["organizationalRole", "simpleSecurityObject"]),
                        LDAPAttribute(SchemaAttribute.cn, "replicator"),
                        LDAPAttribute("userPassword", replicatorHash),
                    ],
                    on: admin
                )
            }
            await admin.close()
            return outcome
        } catch {
            throw LabError("cannot provision forest \(layout.forest) over \(ldapiURI): \(error)")
        }
    }

    /// Brings the database's `olcAccess` to ``AccessControl/rules(for:)`` (directories made by earlier versions
    /// get the current rules on their next start).
    private func enforceAccessControl(_ owner: LDAPConnection) async throws {
        let wanted = AccessControl.rules(for: layout)
        let databases = try await owner.search(
            base: try DistinguishedName(parsing: "cn=config"),
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.objectClass, "olcMdbConfig"),
            attributes: ["olcAccess", "olcSuffix"]
        )
        for database in databases where database.first("olcSuffix")?.lowercased() == layout.suffix.string.lowercased() {
            let present = database["olcAccess"].map(SchemaInstallation.stripOrdinal)
            guard present != wanted else { continue }
            let numbered = wanted.enumerated().map { "{\($0.offset)}\($0.element)" }
            try await owner.modify(try database.distinguishedName, [.replace("olcAccess", numbered)])
        }
    }

    /// A connection over the ldapi socket.
    package func connect(as identity: LabIdentity) async throws -> LDAPConnection {
        let credential: DirectoryCredential =
            switch identity {
            case .anonymous: .anonymous
            case .localOwner: .transportIdentity
            case .admin: .passwordFile(dn: layout.adminDN, file: URL(fileURLWithPath: passwordFile))
            }
        return try await DirectoryAccess(uris: [ldapiURI], credential: credential, operationTimeout: .seconds(30))
            .connect(logger: logger)
    }

    package static func addIfAbsent(
        _ dn: DistinguishedName,
        _ attributes: [LDAPAttribute],
        on connection: LDAPConnection
    ) async throws(LDAPError) {
        do {
            try await connection.add(dn, attributes: attributes)
        } catch {
            guard error.code == .entryAlreadyExists else { throw error }
        }
    }
}

/// Files only their owner may read, and the lab's log lines.
package enum PrivateFiles {
    /// 32 letters and digits (no look-alikes) from the system's random source.
    package static func randomPassword() -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        var password = ""
        for _ in 0..<32 {
            password.append(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))])
        }
        return password
    }

    package static func createFolder(_ path: String) throws(LabError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw LabError("cannot create the folder \(path): \(error.localizedDescription)")
        }
    }

    /// Writes `text` as the whole of `path`, mode 0600, atomically.
    package static func write(_ path: String, _ text: String) throws(LabError) {
        do {
            try AtomicFile.write(URL(fileURLWithPath: path), contents: Data(text.utf8), mode: 0o600)
        } catch {
            throw LabError(error.description, kind: .internalError)
        }
    }

    package static func append(_ path: String, _ line: String) {
        let fd = open(path, O_CREAT | O_APPEND | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        let bytes = Array((line + "\n").utf8)
        _ = Glibc.write(fd, bytes, bytes.count)
    }
}
