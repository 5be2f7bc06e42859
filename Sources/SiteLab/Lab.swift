import DirectorySchema
public import Foundation
import Glibc
public import LDAPKit
public import Logging
import SiteDirectory
public import SiteModel

/// One forest's directory in a lab, as recorded in the lab's `lab.json`.
public struct LabForest: Codable, Sendable, Hashable {
    public var name: ForestName
    public var suffix: String
    public var adminDN: String
    /// `ldap://127.0.0.1:PORT`
    public var uri: String
    /// `ldapi://…`, for SASL EXTERNAL as the lab's owner.
    public var ldapiURI: String
    public var port: Int
    /// The running slapd, or nil once stopped.
    public var pid: Int32?
    /// The folder holding this directory's configuration, database, log and admin password.
    public var folder: String

    public var passwordFile: String { folder + "/admin.password" }
    public var logFile: String { folder + "/slapd.log" }
    var configFolder: String { folder + "/slapd.d" }
}

/// How a lab forest is doing.
public struct LabForestStatus: Sendable {
    public var forest: LabForest
    /// The recorded slapd is running.
    public var running: Bool
    /// It answered a root DSE read.
    public var answering: Bool
    /// `up` found it already running and left it as it was.
    public var reused: Bool
}

/// Who a lab connection binds as.
public enum LabIdentity: Sendable {
    /// No bind; clients read anonymously.
    case anonymous
    /// The forest's administrative identity (`cn=admin,<suffix>`), with the password from the lab folder.
    case admin
    /// SASL EXTERNAL over ldapi as the lab's owner, who manages cn=config (schema, indexes).
    case localOwner
}

/// The embedded lab: one private slapd per forest, from the system's slapd, in a folder of its own.
///
/// Each forest gets `cn=config` built with `slapadd -n0`, back-mdb and syncprov loaded as modules, the siteloc
/// schema, an admin identity with a random password kept in a 0600 file, an ldapi socket and a free loopback
/// port. Labs in different folders never share anything.
public struct Lab: Sendable {
    /// `.siteloc/lab`, relative to the working directory.
    public static let defaultDirectory = ".siteloc/lab"

    public let directory: URL
    public let logger: Logger

    public init(directory: String = Lab.defaultDirectory, logger: Logger) {
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL
        self.logger = logger
    }

    var stateFile: String { directory.path + "/lab.json" }

    // MARK: up

    /// Starts a directory for each forest (reusing any that is already up) and returns all of the lab's forests.
    @discardableResult
    public func up(forests: [ForestName]) async throws(LabError) -> [LabForestStatus] {
        let tools = try SlapdTools.locate()
        try PrivateFiles.createFolder(directory.path)
        let lock = try lockLab()
        defer { Glibc.close(lock) }
        var state = loadState()
        var results: [LabForestStatus] = []
        for name in Set(forests + state.map(\.name)).sorted() {
            let recorded = state.first { $0.name == name }
            if let recorded, let pid = recorded.pid, ProcessControl.isSlapd(pid, servingConfig: recorded.configFolder),
                await answers(recorded)
            {
                logger.info("lab directory already up", metadata: ["forest": "\(name)", "ldap.uri": "\(recorded.uri)"])
                // Converges what an earlier version set up: schema, indexes, access rules, base tree.
                try await instance(for: name, tools: tools).provision()
                results.append(LabForestStatus(forest: recorded, running: true, answering: true, reused: true))
                continue
            }
            let started = try await start(name, previous: recorded, tools: tools)
            state.removeAll { $0.name == name }
            state.append(started)
            try saveState(state)
            results.append(LabForestStatus(forest: started, running: true, answering: true, reused: false))
        }
        try saveState(state)
        return results
    }

    private func start(_ name: ForestName, previous: LabForest?, tools: SlapdTools) async throws(LabError) -> LabForest
    {
        let layout = DirectoryLayout(forest: name)
        let folder = directory.path + "/" + name.rawValue
        let instance = instance(for: name, tools: tools)
        var forest = LabForest(
            name: name,
            suffix: layout.suffix.string,
            adminDN: layout.adminDN.string,
            uri: "",
            ldapiURI: instance.ldapiURI.string,
            port: previous?.port ?? 0,
            pid: nil,
            folder: folder
        )
        if !instance.isInitialized { try await instance.initialize(password: Self.randomPassword()) }
        if let pid = previous?.pid, ProcessControl.isSlapd(pid, servingConfig: forest.configFolder) {
            await ProcessControl.stop(pid)
        }
        for attempt in 1...5 {
            if forest.port == 0 || attempt > 1 { forest.port = try ProcessControl.freeLoopbackPort() }
            forest.uri = "ldap://127.0.0.1:\(forest.port)"
            let pid = try instance.start(listeners: [forest.uri])
            forest.pid = pid
            if try await instance.waitUntilAnswering(pid: pid) {
                logger.info(
                    "lab directory up",
                    metadata: ["forest": "\(name)", "ldap.uri": "\(forest.uri)", "pid": "\(pid)"]
                )
                try await instance.provision()
                return forest
            }
            guard instance.lastLog.contains("errno=98") else { break }  // someone took the port in between
        }
        throw LabError(
            "slapd for forest \(name) did not start. The end of its log (\(forest.logFile)):\n\(instance.lastLog)"
        )
    }

    private func instance(for name: ForestName, tools: SlapdTools) -> SlapdInstance {
        let folder = directory.path + "/" + name.rawValue
        return SlapdInstance(
            layout: DirectoryLayout(forest: name),
            folder: folder,
            socketPath: socketPath(forFolder: folder),
            tools: tools,
            logger: logger
        )
    }

    // MARK: status and down

    /// The lab's forests and whether each is running and answering; empty when there is no lab in the folder.
    public func status() async -> [LabForestStatus] {
        var results: [LabForestStatus] = []
        for forest in loadState() {
            let running = forest.pid.map { ProcessControl.isSlapd($0, servingConfig: forest.configFolder) } ?? false
            let answering = running ? await answers(forest) : false
            results.append(LabForestStatus(forest: forest, running: running, answering: answering, reused: false))
        }
        return results
    }

    /// Stops every slapd of the lab by its recorded pid and waits for each to end. The data stays, so the next
    /// `up` brings the same directories back.
    @discardableResult
    public func down() async throws(LabError) -> [LabForest] {
        guard FileManager.default.fileExists(atPath: stateFile) else { return [] }
        let lock = try lockLab()
        defer { Glibc.close(lock) }
        var state = loadState()
        let stopped = state.filter { forest in
            forest.pid.map { ProcessControl.isSlapd($0, servingConfig: forest.configFolder) } ?? false
        }
        await withTaskGroup(of: Void.self) { group in
            for pid in stopped.compactMap(\.pid) {
                group.addTask { await ProcessControl.stop(pid) }
            }
        }
        for index in state.indices { state[index].pid = nil }
        try saveState(state)
        await downFileShares()
        return stopped
    }

    // MARK: Connecting

    /// The forests recorded in the lab.
    public func forests() -> [LabForest] { loadState() }

    /// A connection configuration for a lab forest.
    public func configuration(
        for forest: LabForest,
        as identity: LabIdentity,
        timeout: Duration = .seconds(2)
    ) throws(LabError) -> LDAPConnectionConfiguration {
        do {
            switch identity {
            case .anonymous:
                return LDAPConnectionConfiguration(uris: [try LDAPURI(forest.uri)], connectTimeout: timeout)
            case .admin:
                let password = try Secret(contentsOf: URL(fileURLWithPath: forest.passwordFile))
                return LDAPConnectionConfiguration(
                    uris: [try LDAPURI(forest.uri)],
                    connectTimeout: timeout,
                    authentication: .simple(dn: try DistinguishedName(parsing: forest.adminDN), password: password)
                )
            case .localOwner:
                return LDAPConnectionConfiguration(
                    uris: [try LDAPURI(forest.ldapiURI)],
                    connectTimeout: timeout,
                    authentication: .external
                )
            }
        } catch {
            throw LabError("lab state for forest \(forest.name) is unusable: \(error)")
        }
    }

    /// Connects to a forest of a running lab.
    public func connect(to name: ForestName, as identity: LabIdentity) async throws -> LDAPConnection {
        guard let forest = loadState().first(where: { $0.name == name }) else {
            throw LabError(
                "the lab in \(directory.path) has no forest \(name); start it with: siteloc lab up --forest \(name)"
            )
        }
        return try await LDAPConnection.connect(try configuration(for: forest, as: identity), logger: logger)
    }

    private func answers(_ forest: LabForest, timeout: Duration = .seconds(1)) async -> Bool {
        guard let configuration = try? configuration(for: forest, as: .anonymous, timeout: timeout),
            let connection = try? await LDAPConnection.connect(configuration, logger: logger)
        else { return false }
        await connection.close()
        return true
    }

    // MARK: Files

    private func loadState() -> [LabForest] {
        guard let data = FileManager.default.contents(atPath: stateFile),
            let state = try? JSONDecoder().decode(LabStateFile.self, from: data)
        else { return [] }
        return state.forests
    }

    private func saveState(_ forests: [LabForest]) throws(LabError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(LabStateFile(version: 1, forests: forests.sorted { $0.name < $1.name }))
        else { throw LabError("cannot encode the lab state") }
        let temporary = stateFile + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data),
            rename(temporary, stateFile) == 0
        else { throw LabError("cannot write \(stateFile): \(String(cString: strerror(errno)))") }
    }

    /// Serialises `up` and `down` of one lab folder between processes.
    private func lockLab() throws(LabError) -> Int32 {
        let fd = open(directory.path + "/.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0, flock(fd, LOCK_EX) == 0 else {
            throw LabError("cannot lock the lab folder \(directory.path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// The ldapi socket: in the forest's folder when the path fits a Unix socket address (108 bytes), otherwise
    /// in the temporary folder under a name derived from the folder, so two labs still never share one.
    private func socketPath(forFolder folder: String) -> String {
        let inFolder = folder + "/ldapi"
        if inFolder.utf8.count < 100 { return inFolder }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in folder.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return NSTemporaryDirectory() + "siteloc-\(String(hash, radix: 16)).ldapi"
    }

    static func randomPassword() -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        var password = ""
        for _ in 0..<32 {
            password.append(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))])
        }
        return password
    }
}

struct LabStateFile: Codable {
    var version: Int
    var forests: [LabForest]
}

/// The OpenLDAP server tools the lab runs.
struct SlapdTools {
    let slapd: String
    let slapadd: String
    let slappasswd: String
    /// From ldap-utils.
    let ldapmodify: String

    /// Looks in `SITELOC_OPENLDAP_SBIN` when it is set (a folder, for OpenLDAP installed elsewhere), otherwise in
    /// the usual places.
    static func locate() throws(LabError) -> SlapdTools {
        let override = ProcessInfo.processInfo.environment["SITELOC_OPENLDAP_SBIN"].flatMap { $0.isEmpty ? nil : $0 }
        let folders = override.map { [$0] } ?? ["/usr/sbin", "/usr/local/sbin", "/opt/symas/sbin", "/usr/libexec"]
        func find(_ name: String) -> String? {
            folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let slapd = find("slapd"), let slapadd = find("slapadd"), let slappasswd = find("slappasswd") else {
            throw LabError(
                "slapd is not installed (looked for slapd, slapadd and slappasswd in \(folders.joined(separator: ", "))). "
                    + "Install it with: sudo apt-get install -y slapd ldap-utils (or run `make deps`), "
                    + "or set SITELOC_OPENLDAP_SBIN to the folder that holds them"
            )
        }
        let ldapmodify =
            ["/usr/bin/ldapmodify", "/usr/local/bin/ldapmodify", "/opt/symas/bin/ldapmodify"]
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/ldapmodify"
        return SlapdTools(slapd: slapd, slapadd: slapadd, slappasswd: slappasswd, ldapmodify: ldapmodify)
    }
}
