public import DirectoryServing
import Foundation
import Glibc
public import LDAPKit
import SiteDirectory
public import SiteModel

/// The lab's Kerberos (docs/kerberos.md): a realm and KDC per forest in `kerberos/<forest>/`, the lab's `krb5.conf`,
/// a service principal and keytab for each directory server (`ldap/dc<k>.<forest>`), and a computer account and
/// keytab for each site server (`<FIRST-LABEL>$`, in `<forest>/identities/<code>.keytab`).
extension Lab {
    /// The krb5.conf every process working with this lab uses.
    public var kerberosConfigurationFile: String { directory.path + "/krb5.conf" }

    package func realm(of forest: ForestName) -> KerberosRealm {
        KerberosRealm(
            forest: forest,
            folder: directory.path + "/kerberos/" + forest.rawValue,
            configurationFile: kerberosConfigurationFile
        )
    }

    /// The name a forest's directory server has, as AD names its domain controllers, and its service principal.
    public static func serverName(_ serverID: Int, of forest: ForestName) -> String { "dc\(serverID).\(forest)" }

    /// A site server's computer account: its host's first label in upper case and `$`, in its forest's realm.
    public static func computerPrincipal(of site: Site) -> String {
        let label = site.server.split(separator: ".").first.map(String.init) ?? site.server
        return label.uppercased() + "$@" + KerberosRealm.realm(of: site.forest)
    }

    /// Where a site server's keytab is kept in the lab.
    public func computerKeytab(of site: Site) -> String {
        directory.path + "/" + site.forest.rawValue + "/identities/" + site.code.rawValue + ".keytab"
    }

    /// Whether the lab runs Kerberos for `forest` (its KDC was set up).
    public func hasKerberos(_ forest: ForestName) -> Bool { realm(of: forest).port != nil }

    /// Sets up and starts each forest's KDC, the principals and keytabs, and each directory server's GSSAPI
    /// settings. Keys already made are kept.
    public func upKerberos(hierarchy: Hierarchy) async throws(LabError) {
        let realms = hierarchy.forests.map { realm(of: $0.name) }
        for realm in realms { try await realm.create() }
        guard let first = realms.first else { return }
        try PrivateFiles.write(
            kerberosConfigurationFile,
            KerberosRealm.configuration(defaultRealm: first.name, realms: realms)
        )
        chmod(kerberosConfigurationFile, 0o644)
        let directories = forests()
        let tools = try SlapdTools.locate()
        for realm in realms {
            guard let directory = directories.first(where: { $0.name == realm.forest }) else { continue }
            try await startKDC(realm)
            var principals: [(principal: String, keytab: String)] = []
            for server in directory.servers {
                let instance = instance(for: realm.forest, serverID: server.serverID, tools: tools)
                try PrivateFiles.createFolder(server.folder + "/kerberos")
                try PrivateFiles.write(
                    instance.kerberosConfigurationFile,
                    KerberosRealm.configuration(defaultRealm: realm.name, realms: realms)
                )
                principals.append(("ldap/" + Self.serverName(server.serverID, of: realm.forest), instance.keytabFile))
            }
            for site in hierarchy.sites where site.forest == realm.forest {
                principals.append((Self.computerPrincipal(of: site), computerKeytab(of: site)))
            }
            try await realm.ensure(principals)
            for server in directory.servers {
                try await configureGSSAPI(directory, server: server, realm: realm)
            }
        }
        try await applyTrusts(
            hierarchy,
            realms: realms.filter { realm in directories.contains { $0.name == realm.forest } }
        )
    }

    /// The cross-realm principals a hierarchy's trusts mean (docs/kerberos.md, "Trusts are keys"): a two-way trust
    /// between A and B is `krbtgt/A@B` and `krbtgt/B@A`; a one-way trust, where the first forest trusts the second
    /// (the second's machines use the first's services), is `krbtgt/FIRST@SECOND` alone. Each lives in both realms'
    /// databases with the same key. No `[capaths]`: a ticket never crosses two trusts.
    public static func crossRealmPrincipals(of hierarchy: Hierarchy) -> Set<String> {
        var wanted: Set<String> = []
        for trust in hierarchy.trusts where trust.forests.count == 2 {
            let first = KerberosRealm.realm(of: trust.forests[0])
            let second = KerberosRealm.realm(of: trust.forests[1])
            wanted.insert("krbtgt/\(first)@\(second)")
            if trust.direction == .twoWay { wanted.insert("krbtgt/\(second)@\(first)") }
        }
        return wanted
    }

    /// Makes both KDCs of each trust hold its keys, and nothing else: a principal missing on either side is keyed
    /// anew on both in one step (a fresh random secret, so the key versions stay equal), one the file no longer
    /// names goes from both.
    private func applyTrusts(_ hierarchy: Hierarchy, realms: [KerberosRealm]) async throws(LabError) {
        let wanted = Self.crossRealmPrincipals(of: hierarchy)
        var present: [String: Set<String>] = [:]
        for realm in realms { present[realm.name] = try await realm.crossRealmPrincipals() }
        func realmsOf(_ principal: String) -> [KerberosRealm] {
            // krbtgt/A@B belongs to the databases of A and B.
            let parts = principal.dropFirst("krbtgt/".count).split(separator: "@").map(String.init)
            return realms.filter { parts.contains($0.name) }
        }
        for principal in wanted.sorted() {
            let holders = realmsOf(principal)
            guard holders.count == 2 else { continue }
            if holders.allSatisfy({ present[$0.name]?.contains(principal) == true }) { continue }
            let secret = PrivateFiles.randomPassword()
            for realm in holders {
                try await realm.setKeys([(principal, secret)], existing: present[realm.name] ?? [])
            }
        }
        for realm in realms {
            let unwanted = (present[realm.name] ?? []).subtracting(wanted)
            try await realm.remove(unwanted.sorted())
        }
    }

    private func startKDC(_ realm: KerberosRealm) async throws(LabError) {
        guard realm.runningPID == nil else { return }
        let pid = try realm.start()
        try await realm.waitUntilListening(pid: pid)
    }

    /// slapd's side of GSSAPI (docs/kerberos.md, "Who is who"): its own name and realm, and principals mapped to
    /// entries — the forest's own computer accounts (`NAME$`) to their computer entries (`cn=NAME,cn=Computers`, as
    /// AD keeps `sAMAccountName` apart from the entry's name), another realm's principals under
    /// ForeignSecurityPrincipals. slapd writes a principal of its own realm without `@REALM` and every other with it;
    /// the local rule lets neither `@` nor `,`, `=`, `/` or `\` through, so a foreign principal can never become a
    /// local computer, whatever it is called.
    private func configureGSSAPI(_ forest: LabForest, server: LabServer, realm: KerberosRealm) async throws(LabError) {
        let layout = DirectoryLayout(forest: realm.forest)
        let base = layout.suffix.string
        let authRealm = realm.forest.rawValue.lowercased()
        let name = "[^,/@=\\\\]+"
        let computer = "[^,/@=\\\\$]+"
        let modifications: [LDAPModification] = [
            .replace("olcSaslHost", [Self.serverName(server.serverID, of: realm.forest)]),
            .replace("olcSaslRealm", [realm.name]),
            .replace(
                "olcAuthzRegexp",
                [
                    "{0}\"^uid=(\(computer))[$],cn=\(authRealm),cn=gssapi,cn=auth$\" \"cn=$1,cn=Computers,\(base)\"",
                    "{1}\"^uid=(\(name))@(\(name)),cn=\(authRealm),cn=gssapi,cn=auth$\""
                        + " \"cn=$1@$2,cn=ForeignSecurityPrincipals,\(base)\"",
                ]
            ),
        ]
        do {
            let connection = try await forest.access(server: server, as: .localOwner).connect(logger: logger)
            try await connection.modify(try DistinguishedName(parsing: "cn=config"), modifications)
            await connection.close()
        } catch {
            throw LabError("cannot set up GSSAPI in forest \(realm.forest)'s server \(server.serverID): \(error)")
        }
    }

    /// Stops every forest's KDC.
    public func downKerberos() async {
        for forest in forests() {
            if let pid = realm(of: forest.name).runningPID { await ProcessControl.stop(pid) }
        }
    }

    /// How a forest's KDC is doing: its realm, port and whether it runs.
    public func kerberosStatus(of forest: ForestName) -> (realm: String, port: Int, running: Bool)? {
        let realm = realm(of: forest)
        guard let port = realm.port else { return nil }
        return (realm.name, port, realm.runningPID != nil)
    }

    /// How a site server reaches its forest's directory with Kerberos: every server by its name (`dc<k>.<forest>`,
    /// reached on loopback), as its computer account.
    public func kerberosAccess(of site: Site, timeout: Duration = .seconds(2)) throws(LabError) -> DirectoryAccess {
        guard let forest = forests().first(where: { $0.name == site.forest }) else {
            throw LabError("the lab has no directory for forest \(site.forest)", kind: .badInput)
        }
        var addresses: [String: String] = [:]
        var uris: [LDAPURI] = []
        do {
            for server in forest.servers {
                let name = Self.serverName(server.serverID, of: site.forest)
                addresses[name] = "127.0.0.1"
                uris.append(try LDAPURI("ldap://\(name):\(server.port)"))
            }
        } catch {
            throw LabError("lab state for forest \(site.forest) is unusable: \(error)")
        }
        var access = DirectoryAccess(
            uris: uris,
            credential: .kerberos(
                principal: Self.computerPrincipal(of: site),
                keytab: URL(fileURLWithPath: computerKeytab(of: site))
            ),
            timeout: timeout,
            operationTimeout: .seconds(30)
        )
        access.hostAddresses = addresses
        access.kerberosConfiguration = kerberosConfigurationFile
        return access
    }
}
