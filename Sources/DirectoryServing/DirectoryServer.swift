import DirectorySchema
import Foundation
import Glibc
public import LDAPKit
public import Logging
import SiteDirectory
public import SiteModel

/// One forest's directory run as a long-lived server: the entrypoint of the container image
/// (`siteloc serve`).
///
/// Every start does the same, so a restart neither repeats nor loses anything: on the first start it builds
/// cn=config and the database in the data folder; on every start it brings up slapd on the ldapi socket only,
/// applies the schema of this siteloc version (a newer image's schema replaces an older one), the indexes, the
/// admin password and the TLS files it was given, adds any missing base entry, loads the LDIF files it has not
/// loaded before, stops that slapd, and returns the command line of the slapd to `exec`.
public struct DirectoryServer: Sendable {
    public struct Settings: Sendable {
        public var forest: ForestName
        /// Holds slapd.d, the database, the admin password and the record of loaded LDIF files.
        public var dataFolder: String
        /// The ldapi socket; `<data>/ldapi` when nil.
        public var socketPath: String?
        /// The admin password; when nil, the stored one (or, on the first start, a random one).
        public var adminPassword: Secret?
        /// LDIF files (`*.ldif`, in name order) to load once each, as the admin.
        public var ldifFolder: String?
        /// What slapd listens on besides the socket, e.g. `ldap:///`.
        public var listeners: [String]
        /// With both, slapd also serves TLS (StartTLS, and `ldaps:///` when listed).
        public var tlsCertificateFile: String?
        public var tlsKeyFile: String?
        /// The open-files limit to run slapd with (slapd sizes its tables by it).
        public var openFiles: Int?
        /// Multi-provider replication with the forest's other servers; nil for a server on its own.
        public var replication: Replication?

        public init(
            forest: ForestName,
            dataFolder: String,
            socketPath: String? = nil,
            adminPassword: Secret? = nil,
            ldifFolder: String? = nil,
            listeners: [String] = ["ldap:///"],
            tlsCertificateFile: String? = nil,
            tlsKeyFile: String? = nil,
            openFiles: Int? = nil,
            replication: Replication? = nil
        ) {
            self.forest = forest
            self.dataFolder = dataFolder
            self.socketPath = socketPath
            self.adminPassword = adminPassword
            self.ldifFolder = ldifFolder
            self.listeners = listeners
            self.tlsCertificateFile = tlsCertificateFile
            self.tlsKeyFile = tlsKeyFile
            self.openFiles = openFiles
            self.replication = replication
        }
    }

    public let settings: Settings
    package let logger: Logger

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// What a start did, for the container's log.
    public struct Preparation: Sendable {
        /// slapd's executable and arguments, for ``exec(_:)``.
        public var command: [String]
        /// One line for each thing this start changed.
        public var changes: [String]
    }

    /// Prepares the directory and returns how to run slapd.
    public func prepare() async throws(LabError) -> Preparation {
        var changes: [String] = []
        let tools = try SlapdTools.locate()
        if let openFiles = settings.openFiles { try Self.limitOpenFiles(to: openFiles) }
        try PrivateFiles.createFolder(settings.dataFolder)
        if let socketPath = settings.socketPath {
            try PrivateFiles.createFolder((socketPath as NSString).deletingLastPathComponent)
        }
        let instance = SlapdInstance(
            layout: DirectoryLayout(forest: settings.forest),
            folder: settings.dataFolder,
            socketPath: settings.socketPath ?? settings.dataFolder + "/ldapi",
            tools: tools,
            logger: logger
        )
        let password = settings.adminPassword.map { String(decoding: $0.bytes, as: UTF8.self) }
        if !instance.isInitialized {
            logger.notice("first start: creating the directory", metadata: ["forest": "\(settings.forest)"])
            try await instance.initialize(
                password: password ?? PrivateFiles.randomPassword(),
                serverID: settings.replication?.serverID ?? 1
            )
            changes.append("created the directory for \(settings.forest) in \(settings.dataFolder)")
            if password == nil { changes.append("generated an admin password: \(instance.passwordFile)") }
        } else if let password {
            try PrivateFiles.write(instance.passwordFile, password)
        }

        let pid = try instance.start(listeners: [])
        guard try await instance.waitUntilAnswering(pid: pid) else {
            throw LabError("slapd did not start. The end of its log (\(instance.logFile)):\n\(instance.lastLog)")
        }
        do {
            changes += try await configure(instance)
            changes += try await replicate(instance)
            let tree = try await baseTree(instance)
            changes += tree.changes
            switch try await instance.provision(baseTree: tree.make, replicatorHash: tree.replicatorHash) {
            case .installed: changes.append("installed the siteloc schema, version \(DirectorySchema.version)")
            case .updated: changes.append("updated the siteloc schema to version \(DirectorySchema.version)")
            case .alreadyCurrent: break
            }
            if tree.decided { try PrivateFiles.write(seedDecisionFile, "") }
            changes += try await replicatorPassword(instance)
            changes += try await loadLDIF(instance, tools: tools, recordOnly: tree.filledFromPeer)
            changes += try await rootDSE(instance, madeBaseTree: tree.make)
        } catch {
            await ProcessControl.stop(pid)
            throw error
        }
        await ProcessControl.stop(pid)
        return Preparation(command: [tools.slapd] + instance.arguments(listeners: settings.listeners), changes: changes)
    }

    /// Replaces this process with slapd (it becomes the container's main process and gets its signals).
    public static func exec(_ command: [String]) -> Never {
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        // exec keeps this thread's blocked signals and any ignored ones; slapd must get SIGTERM from the runtime.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT] { Glibc.signal(signal, SIG_DFL) }
        execv(command[0], argv)
        FileHandle.standardError.write(
            Data("error: cannot start \(command[0]): \(String(cString: strerror(errno)))\n".utf8)
        )
        Glibc.exit(3)
    }

    /// The AD root DSE (docs/active-directory.md); the server that makes the base tree also makes the server
    /// objects it names, its own and its peers'.
    private func rootDSE(_ instance: SlapdInstance, madeBaseTree: Bool) async throws(LabError) -> [String] {
        let serverID = settings.replication?.serverID ?? 1
        do {
            if madeBaseTree {
                try await instance.addServerObjects([serverID] + (settings.replication?.peers.map(\.serverID) ?? []))
            }
            return try await instance.publishRootDSE(serverID: serverID)
                ? ["answers Active Directory's root DSE as dc\(serverID).\(settings.forest)"] : []
        } catch {
            throw LabError("cannot write the root DSE: \(error)")
        }
    }

    /// The admin password (both databases' root DN) and the TLS files, as cn=config says them.
    private func configure(_ instance: SlapdInstance) async throws(LabError) -> [String] {
        var changes: [String] = []
        do {
            let owner = try await instance.connect(as: .localOwner)
            let hash = try await instance.passwordHash()
            let config = try DistinguishedName(parsing: "cn=config")
            let databases = try await owner.search(
                base: config,
                scope: .oneLevel,
                filter: .or([.equal("olcDatabase", "{0}config"), .equal(SchemaAttribute.objectClass, "olcMdbConfig")]),
                attributes: ["olcRootPW"]
            )
            // slappasswd salts every hash, so compare by binding with the password rather than by hash.
            if !(try await adminPasswordWorks(instance)) {
                for database in databases {
                    try await owner.modify(try database.distinguishedName, [.replace("olcRootPW", [hash])])
                }
                changes.append("set the admin password")
            }
            let current = try await owner.search(
                base: config,
                scope: .base,
                attributes: ["olcTLSCertificateFile", "olcTLSCertificateKeyFile"]
            ).first
            let wanted = [settings.tlsCertificateFile, settings.tlsKeyFile]
            let present = [current?.first("olcTLSCertificateFile"), current?.first("olcTLSCertificateKeyFile")]
            if wanted != present {
                // The key and certificate must change together: slapd checks that they match.
                try await owner.modify(
                    config,
                    [
                        .replace("olcTLSCertificateFile", settings.tlsCertificateFile.map { [$0] } ?? []),
                        .replace("olcTLSCertificateKeyFile", settings.tlsKeyFile.map { [$0] } ?? []),
                    ]
                )
                changes.append(settings.tlsCertificateFile.map { "serving TLS with \($0)" } ?? "stopped serving TLS")
            }
            await owner.close()
        } catch {
            throw LabError("cannot configure the directory: \(error)")
        }
        return changes
    }

    private func adminPasswordWorks(_ instance: SlapdInstance) async throws -> Bool {
        do {
            let admin = try await instance.connect(as: .admin)
            await admin.close()
            return true
        } catch let error as LDAPError where error.code == .invalidCredentials {
            return false
        }
    }

    /// Loads each `*.ldif` of the folder that has not been loaded before, in name order, and records it.
    ///
    /// In a replicated forest only the seed (the lowest server ID) loads them; the others get the entries by
    /// replication, and a seed that filled itself from a peer only records the files as loaded (`recordOnly`).
    private func loadLDIF(
        _ instance: SlapdInstance,
        tools: SlapdTools,
        recordOnly: Bool
    ) async throws(LabError) -> [String] {
        guard let folder = settings.ldifFolder, FileManager.default.fileExists(atPath: folder) else { return [] }
        if let replication = settings.replication, !replication.isSeed { return [] }
        var changes: [String] = []
        let record = settings.dataFolder + "/loaded-ldif"
        var loaded = Set(
            ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        )
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".ldif") }.sorted()
        if recordOnly {
            for file in files where !loaded.contains(file) { PrivateFiles.append(record, file) }
            return files.isEmpty ? [] : ["the peer's copy holds what \(folder) loaded: recorded as loaded"]
        }
        for file in files where !loaded.contains(file) {
            do {
                _ = try await ProcessControl.run(
                    tools.ldapmodify,
                    [
                        "-a", "-x", "-H", instance.ldapiURI.string, "-D", instance.layout.adminDN.string,
                        "-y", instance.passwordFile, "-f", folder + "/" + file,
                    ]
                )
            } catch {
                throw LabError(
                    "loading \(folder)/\(file) failed; fix it and start again (files loaded before stay loaded):\n\(error)"
                )
            }
            loaded.insert(file)
            PrivateFiles.append(record, file)
            changes.append("loaded \(folder)/\(file)")
        }
        return changes
    }

    /// Sets the soft and hard open-files limit (lowering is always allowed; raising needs privilege).
    package static func limitOpenFiles(to count: Int) throws(LabError) {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        guard rlim_t(count) <= limit.rlim_max else {
            throw LabError("cannot raise the open-files limit to \(count): the hard limit here is \(limit.rlim_max)")
        }
        limit.rlim_cur = rlim_t(count)
        limit.rlim_max = rlim_t(count)
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            throw LabError("cannot set the open-files limit to \(count): \(String(cString: strerror(errno)))")
        }
    }
}
