import DirectorySchema
public import DirectoryServing
public import Foundation
import Glibc
public import LDAPKit
public import Logging
import SiteDirectory
public import SiteModel
import SystemCalls

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
    /// The forest's other providers when it is replicated (`lab up --replicas N`): servers 2…N.
    public var replicas: [LabServer]?

    public var passwordFile: String { folder + "/admin.password" }
    public var logFile: String { folder + "/slapd.log" }
    var configFolder: String { folder + "/slapd.d" }
    /// The replication identity's password, shared by the forest's providers.
    var replicationPasswordFile: String { folder + "/replication.password" }

    /// Every provider of the forest, the first (whose fields are the forest's own) first.
    public var servers: [LabServer] {
        [LabServer(serverID: 1, uri: uri, ldapiURI: ldapiURI, port: port, pid: pid, folder: folder)] + (replicas ?? [])
    }

    /// The forest's URIs, in order: what clients and site servers try.
    public var uris: [String] { servers.map(\.uri) }

    /// How to reach this forest's directory as `identity`: all its providers in order, or only `server`.
    public func access(
        server: LabServer? = nil,
        as identity: LabIdentity,
        timeout: Duration = .seconds(2)
    ) throws(LabError) -> DirectoryAccess {
        do {
            switch identity {
            case .anonymous:
                let targets = try (server.map { [$0.uri] } ?? self.uris).map { try LDAPURI($0) }
                return DirectoryAccess(uris: targets, timeout: timeout, operationTimeout: .seconds(30))
            case .admin:
                let targets = try (server.map { [$0.uri] } ?? self.uris).map { try LDAPURI($0) }
                return DirectoryAccess(
                    uris: targets,
                    credential: .passwordFile(
                        dn: try DistinguishedName(parsing: adminDN),
                        file: URL(fileURLWithPath: passwordFile)
                    ),
                    timeout: timeout,
                    operationTimeout: .seconds(30)
                )
            case .localOwner:
                return DirectoryAccess(
                    uris: [try LDAPURI(server?.ldapiURI ?? ldapiURI)],
                    credential: .transportIdentity,
                    timeout: timeout,
                    operationTimeout: .seconds(30)
                )
            }
        } catch {
            throw LabError("lab state for forest \(name) is unusable: \(error)")
        }
    }

    mutating func record(_ server: LabServer) {
        if server.serverID == 1 {
            (uri, ldapiURI, port, pid, folder) = (server.uri, server.ldapiURI, server.port, server.pid, server.folder)
        } else {
            var others = (replicas ?? []).filter { $0.serverID != server.serverID }
            others.append(server)
            replicas = others.sorted { $0.serverID < $1.serverID }
        }
    }
}

/// One slapd of a lab forest.
public struct LabServer: Codable, Sendable, Hashable {
    /// 1 for the forest's first provider; the others count on.
    public var serverID: Int
    /// `ldap://127.0.0.1:PORT`
    public var uri: String
    public var ldapiURI: String
    public var port: Int
    /// The running slapd, or nil once stopped.
    public var pid: Int32?
    public var folder: String

    var configFolder: String { folder + "/slapd.d" }
    public var logFile: String { folder + "/slapd.log" }
}

/// How one server of a lab forest is doing.
public struct LabServerStatus: Sendable {
    public var server: LabServer
    public var running: Bool
    public var answering: Bool
    /// The database's `contextCSN` values: how far it has seen each provider's changes.
    public var contextCSN: [String]
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
    /// Each provider (one unless the forest is replicated); filled by ``Lab/status()``.
    public var servers: [LabServerStatus] = []

    /// Every provider answers and holds the same `contextCSN` set: each has seen every change the others made.
    public var inSync: Bool {
        guard let first = servers.first, servers.allSatisfy(\.answering) else { return false }
        return servers.allSatisfy { $0.contextCSN == first.contextCSN }
    }

    /// How far the provider furthest behind trails: for each provider whose changes are known, the newest
    /// change's time against the oldest any answering server has seen of it. Nil when in sync or unknown.
    public var lag: String? {
        let answering = servers.filter(\.answering)
        guard !inSync, !answering.isEmpty else { return nil }
        let silent = servers.filter { !$0.answering }.map { "server \($0.server.serverID) does not answer" }
        if !silent.isEmpty { return silent.joined(separator: "; ") }
        // contextCSN: `20261201220000.123456Z#000000#001#000000`, the third field the provider's server ID. The
        // times are fixed-width, so they compare as text.
        let seen = answering.map { server in
            Dictionary(
                server.contextCSN.compactMap { csn -> (String, String)? in
                    let parts = csn.split(separator: "#")
                    return parts.count == 4 ? (String(parts[2]), String(parts[0])) : nil
                },
                uniquingKeysWith: max
            )
        }
        var worst: Double = 0
        var missing: [String] = []
        for provider in Set(seen.flatMap(\.keys)).sorted() {
            let newest = seen.compactMap { $0[provider] }.max()!
            for (server, times) in zip(answering, seen) {
                guard let time = times[provider] else {
                    missing.append("server \(server.server.serverID) has no change of server \(Int(provider) ?? 0)")
                    continue
                }
                if let ahead = Self.seconds(newest), let at = Self.seconds(time) { worst = max(worst, ahead - at) }
            }
        }
        return missing.isEmpty ? String(format: "behind by %.3f s", worst) : missing.joined(separator: "; ")
    }

    /// Seconds since 1970 of a CSN time (`yyyyMMddHHmmss.ffffffZ`, UTC).
    static func seconds(_ time: String) -> Double? {
        let digits = Array(time.utf8)
        guard digits.count >= 14 else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: digits[range], as: UTF8.self)) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(
            year: number(0..<4),
            month: number(4..<6),
            day: number(6..<8),
            hour: number(8..<10),
            minute: number(10..<12),
            second: number(12..<14)
        )
        guard let date = calendar.date(from: components) else { return nil }
        let fraction =
            digits.count > 15
            ? Double("0." + String(decoding: digits[15...].prefix { $0 != 90 }, as: UTF8.self)) ?? 0 : 0
        return date.timeIntervalSince1970 + fraction
    }
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
    /// With `replicas` (2 or more) each forest runs that many multi-provider slapd that replicate its database
    /// (docs/replication.md); without it a forest keeps the number it has (one when new). A forest never shrinks:
    /// its data stays on every provider it had.
    @discardableResult
    public func up(forests: [ForestName], replicas: Int? = nil) async throws(LabError) -> [LabForestStatus] {
        try await up(forests: forests, replicas: replicas, behaviorVersions: [:])
    }

    /// As ``up(forests:replicas:)``; `behaviorVersions` gives a forest's functional level for its root DSE ahead of
    /// provisioning (`lab up --hierarchy`), so that the root DSE is written once, with the level provisioning sets.
    func up(
        forests: [ForestName],
        replicas: Int?,
        behaviorVersions: [ForestName: Int]
    ) async throws(LabError) -> [LabForestStatus] {
        let tools = try SlapdTools.locate()
        try PrivateFiles.createFolder(directory.path)
        let lock = try lockLab()
        defer { Glibc.close(lock) }
        var state = loadState()
        var results: [LabForestStatus] = []
        for name in Set(forests + state.map(\.name)).sorted() {
            let recorded = state.first { $0.name == name }
            let count = max(recorded?.servers.count ?? 1, forests.contains(name) ? replicas ?? 1 : 1)
            let forest = try await up(
                name,
                servers: count,
                recorded: recorded,
                behaviorVersion: behaviorVersions[name],
                tools: tools
            ) {
                (forest: LabForest) throws(LabError) -> Void in
                state.removeAll { $0.name == name }
                state.append(forest)
                try saveState(state)
            }
            let reused = recorded.map { $0.servers.map { $0.pid } == forest.servers.map { $0.pid } } ?? false
            results.append(LabForestStatus(forest: forest, running: true, answering: true, reused: reused))
        }
        try saveState(state)
        return results
    }

    /// Brings one forest's `count` providers up, recording each as it starts; configures replication among them.
    private func up(
        _ name: ForestName,
        servers count: Int,
        recorded: LabForest?,
        behaviorVersion: Int?,
        tools: SlapdTools,
        save: (LabForest) throws(LabError) -> Void
    ) async throws(LabError) -> LabForest {
        let layout = DirectoryLayout(forest: name)
        let first = instance(for: name, serverID: 1, tools: tools)
        var forest =
            recorded
            ?? LabForest(
                name: name,
                suffix: layout.suffix.string,
                adminDN: layout.adminDN.string,
                uri: "",
                ldapiURI: first.ldapiURI.string,
                port: 0,
                pid: nil,
                folder: first.folder
            )
        let previous = Dictionary(uniqueKeysWithValues: (recorded?.servers ?? []).map { ($0.serverID, $0) })
        for serverID in 1...count {
            let instance = instance(for: name, serverID: serverID, tools: tools)
            if let running = previous[serverID], let pid = running.pid,
                ProcessControl.isSlapd(pid, servingConfig: running.configFolder), await answers(running.uri)
            {
                logger.info(
                    "lab directory already up",
                    metadata: ["forest": "\(name)", "ldap.uri": "\(running.uri)", "server": "\(serverID)"]
                )
                continue
            }
            if !instance.isInitialized {
                // Every provider of a forest has the first one's admin password.
                let password =
                    serverID == 1
                    ? PrivateFiles.randomPassword()
                    : ((try? String(contentsOfFile: forest.passwordFile, encoding: .utf8))
                        ?? PrivateFiles.randomPassword())
                try await instance.initialize(password: password, serverID: serverID)
            }
            forest.record(try await start(instance, serverID: serverID, previous: previous[serverID]))
            try save(forest)
        }
        // Schema, access rules and the base tree on the first provider (with the replication identity when
        // replicated); the others get the schema and fill themselves from a peer.
        var replicatorHash: String?
        if count > 1 {
            if !FileManager.default.fileExists(atPath: forest.replicationPasswordFile) {
                try PrivateFiles.write(forest.replicationPasswordFile, PrivateFiles.randomPassword())
            }
            replicatorHash = try await first.passwordHash(of: forest.replicationPasswordFile)
        }
        try await first.provision(baseTree: true, replicatorHash: replicatorHash)
        for server in forest.servers.dropFirst() {
            try await instance(for: name, serverID: server.serverID, tools: tools).provision(baseTree: false)
        }
        if count > 1 {
            guard let password = try? String(contentsOfFile: forest.replicationPasswordFile, encoding: .utf8) else {
                throw LabError("cannot read \(forest.replicationPasswordFile)")
            }
            for server in forest.servers {
                let peers = forest.servers.filter { $0.serverID != server.serverID }.map { ($0.serverID, $0.uri) }
                try await instance(for: name, serverID: server.serverID, tools: tools).configureReplication(
                    ReplicationSettings(serverID: server.serverID, peers: peers, password: password)
                )
            }
        }
        try await publishRootDSE(of: forest, behaviorVersion: behaviorVersion, tools: tools)
        return forest
    }

    /// Each provider's AD root DSE, and the server objects it names (made on the first provider). The functional
    /// level is `behaviorVersion` when given, else what each provider holds.
    private func publishRootDSE(of forest: LabForest, behaviorVersion: Int?, tools: SlapdTools) async throws(LabError) {
        let ids = forest.servers.map(\.serverID)
        do {
            try await instance(for: forest.name, serverID: 1, tools: tools).addServerObjects(ids)
            for id in ids {
                _ = try await instance(for: forest.name, serverID: id, tools: tools)
                    .publishRootDSE(serverID: id, behaviorVersion: behaviorVersion)
            }
        } catch {
            throw LabError("cannot write the root DSE of \(forest.name): \(error)")
        }
    }

    /// Starts one provider on its previous port when it is free, else on a new one.
    private func start(
        _ instance: SlapdInstance,
        serverID: Int,
        previous: LabServer?
    ) async throws(LabError)
        -> LabServer
    {
        var server = LabServer(
            serverID: serverID,
            uri: "",
            ldapiURI: instance.ldapiURI.string,
            port: previous?.port ?? 0,
            pid: nil,
            folder: instance.folder
        )
        if let pid = previous?.pid, ProcessControl.isSlapd(pid, servingConfig: server.configFolder) {
            await ProcessControl.stop(pid)
        }
        for attempt in 1...5 {
            if server.port == 0 || attempt > 1 { server.port = try ProcessControl.freeLoopbackPort() }
            server.uri = "ldap://127.0.0.1:\(server.port)"
            let pid = try instance.start(listeners: [server.uri])
            server.pid = pid
            if try await instance.waitUntilAnswering(pid: pid) {
                logger.info(
                    "lab directory up",
                    metadata: [
                        "forest": "\(instance.layout.forest)", "ldap.uri": "\(server.uri)", "pid": "\(pid)",
                        "server": "\(serverID)",
                    ]
                )
                return server
            }
            guard instance.lastLog.contains("errno=98") else { break }  // someone took the port in between
        }
        throw LabError(
            "slapd for forest \(instance.layout.forest) did not start. The end of its log (\(instance.logFile)):\n"
                + instance.lastLog
        )
    }

    /// Provider 1 lives in `<lab>/<forest>`, provider k in `<lab>/<forest>@k` (`@` is in no forest name).
    func instance(for name: ForestName, serverID: Int = 1, tools: SlapdTools) -> SlapdInstance {
        let folder = directory.path + "/" + name.rawValue + (serverID == 1 ? "" : "@\(serverID)")
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
        let tools = try? SlapdTools.locate()
        for forest in loadState() {
            var servers: [LabServerStatus] = []
            for server in forest.servers {
                let running = server.pid.map { ProcessControl.isSlapd($0, servingConfig: server.configFolder) } ?? false
                let answering = running ? await answers(server.uri) : false
                var contextCSN: [String] = []
                if answering, let tools {
                    contextCSN = await instance(for: forest.name, serverID: server.serverID, tools: tools).contextCSN()
                }
                servers.append(
                    LabServerStatus(server: server, running: running, answering: answering, contextCSN: contextCSN)
                )
            }
            var result = LabForestStatus(
                forest: forest,
                running: servers[0].running,
                answering: servers[0].answering,
                reused: false
            )
            result.servers = servers
            results.append(result)
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
            forest.servers.contains { server in
                server.pid.map { ProcessControl.isSlapd($0, servingConfig: server.configFolder) } ?? false
            }
        }
        let pids = stopped.flatMap(\.servers).filter { server in
            server.pid.map { ProcessControl.isSlapd($0, servingConfig: server.configFolder) } ?? false
        }.compactMap(\.pid)
        await withTaskGroup(of: Void.self) { group in
            for pid in pids {
                group.addTask { await ProcessControl.stop(pid) }
            }
        }
        for index in state.indices {
            for server in state[index].servers {
                var stoppedServer = server
                stoppedServer.pid = nil
                state[index].record(stoppedServer)
            }
        }
        try saveState(state)
        await downKerberos()
        await downFileShares()
        return stopped
    }

    // MARK: Connecting

    /// The forests recorded in the lab.
    public func forests() -> [LabForest] { loadState() }

    /// How to reach a lab forest's directory as `identity` (``LabForest/access(server:as:timeout:)``).
    public func access(
        for forest: LabForest,
        as identity: LabIdentity,
        timeout: Duration = .seconds(2)
    ) throws(LabError) -> DirectoryAccess {
        try forest.access(as: identity, timeout: timeout)
    }

    /// Connects to a forest of a running lab.
    public func connect(to name: ForestName, as identity: LabIdentity) async throws -> LDAPConnection {
        guard let forest = loadState().first(where: { $0.name == name }) else {
            throw LabError(
                "the lab in \(directory.path) has no forest \(name); start it with: siteloc lab up --forest \(name)"
            )
        }
        return try await access(for: forest, as: identity).connect(logger: logger)
    }

    private func answers(_ uri: String, timeout: Duration = .seconds(1)) async -> Bool {
        guard let uri = try? LDAPURI(uri),
            let connection = try? await DirectoryAccess(uris: [uri], timeout: timeout, operationTimeout: .seconds(30))
                .connect(logger: logger)
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
        do {
            try AtomicFile.write(URL(fileURLWithPath: stateFile), contents: data)
        } catch {
            throw LabError(error.description, kind: .internalError)
        }
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

}

struct LabStateFile: Codable {
    var version: Int
    var forests: [LabForest]
}
