package import Foundation
import Glibc
package import SiteModel

/// One forest's Kerberos realm, as Active Directory's domain controllers hold it (docs/kerberos.md): an MIT KDC of
/// its own (`krb5kdc`, Debian's krb5-kdc) in `folder` — `kdc.conf`, the database and its stash, `kdc.log`,
/// `kdc.pid` — on a loopback port. The realm is the forest's name in upper case. Every key is random and lives only
/// in the database and in keytabs (mode 0600); the master key goes to `kdb5_util` on standard input and stays in
/// the stash. kadmin commands go on standard input, never in argv.
package struct KerberosRealm: Sendable {
    package let forest: ForestName
    package let folder: String
    /// The lab's `krb5.conf` (every realm of the lab), which the tools run with.
    package let configurationFile: String

    package init(forest: ForestName, folder: String, configurationFile: String) {
        self.forest = forest
        self.folder = folder
        self.configurationFile = configurationFile
    }

    package var name: String { Self.realm(of: forest) }
    package static func realm(of forest: ForestName) -> String { forest.rawValue.uppercased() }

    package var profileFile: String { folder + "/kdc.conf" }
    package var logFile: String { folder + "/kdc.log" }
    var pidFile: String { folder + "/kdc.pid" }
    var database: String { folder + "/principal" }
    var portFile: String { folder + "/port" }

    package static var isInstalled: Bool {
        ["/usr/sbin/krb5kdc", "/usr/sbin/kdb5_util", "/usr/sbin/kadmin.local"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// The KDC's port, chosen when the realm was created.
    package var port: Int? {
        (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    private var environment: [String: String] {
        ["KRB5_CONFIG": configurationFile, "KRB5_KDC_PROFILE": profileFile]
    }

    /// Creates the realm's database the first time (a random master key, on standard input); later calls keep it.
    package func create() async throws(LabError) {
        guard KerberosRealm.isInstalled else {
            throw LabError(
                "the MIT Kerberos KDC is not installed (expected /usr/sbin/krb5kdc, kdb5_util and kadmin.local);"
                    + " install it with: apt-get install krb5-kdc krb5-admin-server",
                kind: .serviceUnavailable
            )
        }
        try PrivateFiles.createFolder(folder)
        let port: Int
        if let recorded = self.port { port = recorded } else { port = try ProcessControl.freeLoopbackPort() }
        try PrivateFiles.write(portFile, String(port))
        try PrivateFiles.write(
            profileFile,
            """
            [kdcdefaults]
                kdc_listen = 127.0.0.1:\(port)
                kdc_tcp_listen = 127.0.0.1:\(port)
            [realms]
                \(name) = {
                    database_name = \(database)
                    key_stash_file = \(folder)/stash
                    acl_file = \(folder)/kadm5.acl
                    kdc_listen = 127.0.0.1:\(port)
                    kdc_tcp_listen = 127.0.0.1:\(port)
                    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
                    max_life = 10h
                    max_renewable_life = 7d
                }
            [logging]
                kdc = FILE:\(logFile)

            """
        )
        guard !FileManager.default.fileExists(atPath: database) else { return }
        let master = PrivateFiles.randomPassword()
        _ = try await ProcessControl.run(
            "/usr/sbin/kdb5_util",
            ["-r", name, "create", "-s"],
            input: Data("\(master)\n\(master)\n".utf8),
            environment: environment
        )
    }

    /// Adds each principal with a random key unless it exists, and writes its keys into `keytab` unless that file
    /// exists already: a second `lab up` changes no key, so keytabs and tickets already handed out stay good.
    package func ensure(_ principals: [(principal: String, keytab: String)]) async throws(LabError) {
        var commands = ""
        for (principal, keytab) in principals {
            try Self.checkName(principal)
            commands += "addprinc -randkey \(principal)\n"
            if !FileManager.default.fileExists(atPath: keytab) {
                try PrivateFiles.createFolder((keytab as NSString).deletingLastPathComponent)
                commands += "ktadd -k \(keytab) \(principal)\n"
            }
        }
        guard !commands.isEmpty else { return }
        // addprinc of an existing principal says so and goes on; only a failed ktadd matters.
        let output = try await ProcessControl.run(
            "/usr/sbin/kadmin.local",
            ["-r", name],
            input: Data(commands.utf8),
            environment: environment
        )
        for (principal, keytab) in principals where !FileManager.default.fileExists(atPath: keytab) {
            throw LabError("could not write the keytab of \(principal) to \(keytab): \(output.suffix(400))")
        }
        for (_, keytab) in principals { chmod(keytab, 0o600) }
    }

    /// The cross-realm principals (`krbtgt/<realm>@<other realm>`) in this realm's database.
    package func crossRealmPrincipals() async throws(LabError) -> Set<String> {
        let output = try await ProcessControl.run(
            "/usr/sbin/kadmin.local",
            ["-r", name],
            input: Data("listprincs krbtgt/*\n".utf8),
            environment: environment
        )
        // kadmin.local prints its prompt without a newline: the name is the last word of its line (and the command,
        // echoed after a prompt, has no realm).
        return Set(
            output.split(whereSeparator: \.isNewline).compactMap { $0.split(separator: " ").last.map(String.init) }
                .filter { $0.hasPrefix("krbtgt/") && $0.contains("@") && $0 != "krbtgt/\(name)@\(name)" }
        )
    }

    /// Sets each principal's key from its password (a trust's shared secret: both realms derive the same key and
    /// key version from it), adding the principal where it is missing. The passwords go on kadmin's standard input.
    package func setKeys(_ keys: [(principal: String, password: String)], existing: Set<String>) async throws(LabError)
    {
        var commands = ""
        for (principal, password) in keys {
            try Self.checkName(principal)
            guard
                password.unicodeScalars.allSatisfy({
                    $0.isASCII && $0.properties.isAlphabetic || ("0"..."9").contains($0)
                }),
                !password.isEmpty
            else { throw LabError("a trust key's password must be letters and digits", kind: .internalError) }
            let verb = existing.contains(principal) ? "cpw" : "addprinc"
            commands += "\(verb) -pw \(password) \(principal)\n"
        }
        guard !commands.isEmpty else { return }
        _ = try await ProcessControl.run(
            "/usr/sbin/kadmin.local",
            ["-r", name],
            input: Data(commands.utf8),
            environment: environment
        )
    }

    /// Removes principals (a trust taken out of the file).
    package func remove(_ principals: [String]) async throws(LabError) {
        guard !principals.isEmpty else { return }
        for principal in principals { try Self.checkName(principal) }
        _ = try await ProcessControl.run(
            "/usr/sbin/kadmin.local",
            ["-r", name],
            input: Data(principals.map { "delprinc -force \($0)\n" }.joined().utf8),
            environment: environment
        )
    }

    /// Principal names reach kadmin.local as text on its standard input: a name can never be another command.
    static func checkName(_ principal: String) throws(LabError) {
        let allowed = principal.unicodeScalars.allSatisfy {
            $0.isASCII
                && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "$-./@_".unicodeScalars.contains($0))
        }
        guard allowed, !principal.isEmpty, principal.utf8.count <= 255 else {
            throw LabError("'\(principal.prefix(80))' is not a principal name siteloc makes", kind: .badInput)
        }
    }

    /// Starts the KDC in the foreground of a session of its own; returns its pid.
    package func start() throws(LabError) -> pid_t {
        try? FileManager.default.removeItem(atPath: pidFile)
        return try ProcessControl.spawnDetached(
            "/usr/sbin/krb5kdc",
            ["-n", "-r", name, "-P", pidFile],
            logFile: folder + "/krb5kdc.out",
            environment: environment
        )
    }

    /// The pid of this realm's KDC when it runs (from the pid file krb5kdc writes, checked against the process).
    package var runningPID: pid_t? {
        guard
            let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8))
                .flatMap({ pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
            ProcessControl.runs(pid, program: "krb5kdc", with: name)
        else { return nil }
        return pid
    }

    /// Waits until the KDC accepts connections on its port, within `limit`.
    package func waitUntilListening(pid: pid_t, within limit: Duration = .seconds(10)) async throws(LabError) {
        guard let port else { throw LabError("realm \(name) has no port recorded in \(portFile)") }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if ProcessControl.acceptsConnections(port: port) { return }
            guard ProcessControl.isAlive(pid) else { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        throw LabError(
            "the KDC of realm \(name) did not listen on 127.0.0.1:\(port) within \(limit). The end of its log"
                + " (\(logFile)):\n\(ProcessControl.tail(logFile))"
        )
    }

    /// The `[realms]` entry of a krb5.conf for this realm.
    package var realmEntry: String? {
        port.map { "    \(name) = {\n        kdc = 127.0.0.1:\($0)\n    }\n" }
    }

    /// A krb5.conf for the lab (docs/kerberos.md): `defaultRealm` as the default, every realm's KDC by address, TCP
    /// only, no DNS, no reverse lookups, host names as given; each forest's names in its realm.
    package static func configuration(defaultRealm: String, realms: [KerberosRealm]) -> String {
        var text = """
            [libdefaults]
                default_realm = \(defaultRealm)
                dns_lookup_kdc = false
                dns_lookup_realm = false
                rdns = false
                dns_canonicalize_hostname = false
                udp_preference_limit = 1
                request_timeout = 5
            [realms]

            """
        for realm in realms { text += realm.realmEntry ?? "" }
        text += "[domain_realm]\n"
        for realm in realms {
            text += "    .\(realm.forest.rawValue) = \(realm.name)\n    \(realm.forest.rawValue) = \(realm.name)\n"
        }
        return text
    }
}
