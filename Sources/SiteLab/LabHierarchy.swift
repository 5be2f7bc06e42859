import DirectorySchema
public import DirectoryServing
import Foundation
public import LDAPKit
import SiteDirectory
public import SiteModel

extension Lab {
    /// A site server's identity in its forest's lab directory: its computer entry's DN and its password file.
    public func identity(of site: Site) -> (dn: DistinguishedName, passwordFile: String) {
        let layout = DirectoryLayout(forest: site.forest)
        return (
            layout.computer(host: site.server.lowercased()),
            directory.path + "/" + site.forest.rawValue + "/identities/" + site.code.rawValue + ".password"
        )
    }

    /// Where a forest's directory is (docs/command-line.md, "Where the directory is"): `override` when given, else the forest's
    /// `directory` URIs in the file, else this lab's; empty when none of them knows it.
    public func directoryURIs(for forest: Forest, override: [LDAPURI] = []) throws(LabError) -> [LDAPURI] {
        if !override.isEmpty { return override }
        do {
            if !forest.directory.isEmpty { return try forest.directory.map { try LDAPURI($0) } }
            return try forests().filter { $0.name == forest.name }.flatMap(\.uris).map { try LDAPURI($0) }
        } catch {
            throw LabError("forest \(forest.name): \(error)", kind: .badInput)
        }
    }

    /// A site server's credential in its forest's lab directory: its computer entry, the password from
    /// `identities/<code>.password` when an identity folder is given, else from the lab (docs/command-line.md,
    /// "Where the directory is").
    public func credential(of site: Site, identities: String? = nil) -> DirectoryCredential {
        var identity = identity(of: site)
        if let identities { identity.passwordFile = identities + "/\(site.code).password" }
        return .passwordFile(dn: identity.dn, file: URL(fileURLWithPath: identity.passwordFile))
    }

    /// Starts a directory for each forest of the hierarchy and provisions what Active Directory would already
    /// hold there: the functional level, the trusts, and a computer entry for each site server, which is the
    /// site's identity (its random password is kept in `<forest>/identities/<code>.password`, mode 0600).
    /// Running it again brings the directories to what the file now says. Each forest's KDC (a realm with keytabs
    /// for the directory servers and the site servers' computer accounts, ``upKerberos(hierarchy:)``) and the lab's
    /// smbd (one SMS_<CODE> share per site server inbox) start too.
    @discardableResult
    public func up(hierarchy: Hierarchy, replicas: Int? = nil) async throws(LabError) -> [LabForestStatus] {
        let statuses = try await up(
            forests: hierarchy.forests.map(\.name),
            replicas: replicas,
            behaviorVersions: Dictionary(
                hierarchy.forests.map { ($0.name, $0.functionalLevel.behaviorVersion) },
                uniquingKeysWith: { first, _ in first }
            )
        )
        let tools = try SlapdTools.locate()
        for forest in hierarchy.forests {
            guard let directory = forests().first(where: { $0.name == forest.name }) else { continue }
            do {
                try await provision(forest, in: hierarchy, directory: directory, tools: tools)
            } catch let error as LabError {
                throw error
            } catch {
                throw LabError("cannot provision forest \(forest.name) at \(directory.uri): \(error)")
            }
        }
        try await upKerberos(hierarchy: hierarchy)
        try await upFileShares(hierarchy: hierarchy)
        return statuses
    }

    private func provision(
        _ forest: Forest,
        in hierarchy: Hierarchy,
        directory: LabForest,
        tools: SlapdTools
    ) async throws {
        // Provisioning is a diff too: a provider that goes away mid-way is left for the next one.
        let access = try access(for: directory, as: .admin)
        let connect = { try await access.connect(logger: logger) }
        try await LDAPConnection.withFailover(connect: connect) { admin in
            try await provision(forest, in: hierarchy, directory: directory, tools: tools, admin: admin)
        }
    }

    private func provision(
        _ forest: Forest,
        in hierarchy: Hierarchy,
        directory: LabForest,
        tools: SlapdTools,
        admin: LDAPConnection
    ) async throws {
        let layout = DirectoryLayout(forest: forest.name)
        let (partitions, level) = ForestProvisioning.functionalLevel(of: forest)
        try await admin.modify(partitions, [level])

        let trusts = try await admin.search(
            base: layout.system,
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.objectClass, SchemaClass.trustedDomain)
        )
        try await ChangeApplier.apply(
            EntryDiff.changes(wanted: ForestProvisioning.trustedDomains(of: forest, in: hierarchy), present: trusts),
            on: admin
        )

        // AD sites and subnets: cn=Sites and everything of those classes under it, as the hierarchy lists them.
        let adSiteFilter = LDAPFilter.or(
            ForestProvisioning.adSiteClasses.map { .equal(SchemaAttribute.objectClass, $0) }
        )
        let presentSites = try await admin.search(base: layout.configuration, scope: .subtree, filter: adSiteFilter)
        // cn=Sites and cn=Subnets are base tree, made before any provisioning: sites and subnets can go at once.
        try await ChangeApplier.apply(
            EntryDiff.changes(wanted: ForestProvisioning.adSites(of: forest), present: presentSites),
            on: admin
        )

        var servers: [DesiredEntry] = []
        var hashes: [String: String] = [:]
        var passwordChanges: [DirectoryChange] = []
        for (site, entry) in ForestProvisioning.siteServers(of: forest, in: hierarchy) {
            let identity = identity(of: site)
            try PrivateFiles.createFolder(directory.folder + "/identities")
            if !FileManager.default.fileExists(atPath: identity.passwordFile) {
                try PrivateFiles.write(identity.passwordFile, PrivateFiles.randomPassword())
            }
            let hash = try await ProcessControl.run(tools.slappasswd, ["-n", "-T", identity.passwordFile])
                .trimmingCharacters(in: .whitespacesAndNewlines)
            servers.append(entry)
            hashes[entry.dn.caseInsensitiveKey] = hash
            if !(await canBind(identity, directory: directory)) {
                passwordChanges.append(.modify(entry.dn, [.replace("userPassword", [hash])]))
            }
        }
        let present = try await admin.search(
            base: layout.computers,
            scope: .oneLevel,
            filter: .equal(SchemaAttribute.objectClass, SchemaClass.siteServer)
        )
        // Salted hashes never compare equal: passwords are checked by binding instead.
        var changes = EntryDiff.changes(wanted: servers, present: present, unmanaged: ["userPassword"]).map {
            change -> DirectoryChange in
            guard case .add(var entry) = change, let hash = hashes[entry.dn.caseInsensitiveKey] else { return change }
            entry.attributes.append(LDAPAttribute("userPassword", hash))
            return .add(entry)
        }
        let added = Set(
            changes.compactMap { if case .add(let entry) = $0 { entry.dn.caseInsensitiveKey } else { nil } }
        )
        changes += passwordChanges.filter { !added.contains($0.dn.caseInsensitiveKey) }
        try await ChangeApplier.apply(changes, on: admin)
    }

    private func canBind(_ identity: (dn: DistinguishedName, passwordFile: String), directory: LabForest) async -> Bool
    {
        let credential = DirectoryCredential.passwordFile(
            dn: identity.dn,
            file: URL(fileURLWithPath: identity.passwordFile)
        )
        guard let access = try? directory.access(as: .anonymous).as(credential),
            let connection = try? await access.connect(logger: logger)
        else { return false }
        await connection.close()
        return true
    }
}
