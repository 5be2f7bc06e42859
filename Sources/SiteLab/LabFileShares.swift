public import DirectoryServing
public import Foundation
import Glibc
public import LDAPKit
import Logging
public import SMBKit
public import SiteModel
import SiteServer

/// The lab's SMB server: one private smbd on a free loopback port with a share `SMS_<CODE>` per site, each the
/// site server's inbox folder (`<lab>/sites/<CODE>/inbox`). Every site server name of the lab resolves to it, the
/// way each site server's SMS_<code> share would be reached on its own machine. Nothing of the system's Samba
/// (/etc/samba, /var/lib/samba) is used or touched.
public struct LabFileShares: Codable, Sendable {
    public var port: Int
    public var pid: Int32?
    public var user: String
    public var folder: String
    /// Where smbd runs when not on this machine's loopback (absent: 127.0.0.1 here).
    public var placement: Placement?

    /// The address the shares are reached at.
    public var host: String { placement?.address ?? "127.0.0.1" }

    /// smbd in a network namespace of its own (`ip netns add`), serving on one IPv4 address of it: the far end of
    /// an emulated WAN link for the sender's tests and benchmarks.
    public struct Placement: Codable, Sendable, Equatable {
        public var namespace: String
        public var address: String

        /// Both go into smbd's command line and configuration: a namespace name of `[A-Za-z0-9._-]` (no leading
        /// dot) and a dotted IPv4 address, nothing else.
        public init(namespace: String, address: String) throws(LabError) {
            let plain = namespace.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "._-".contains($0) }
            guard plain, !namespace.isEmpty, namespace.count <= 64, !namespace.hasPrefix(".") else {
                throw LabError(
                    "not a network namespace name: \"\(namespace)\" (expected letters, digits, . _ -)",
                    kind: .badInput
                )
            }
            guard IPv4Address(address) != nil else {
                throw LabError(
                    "not an IPv4 address: \"\(address)\" (expected a dotted quad such as 10.77.0.1)",
                    kind: .badInput
                )
            }
            self.namespace = namespace
            self.address = address
        }

        /// Read back from the lab's state file, checked as when it was given.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            try self.init(
                namespace: try container.decode(String.self, forKey: .namespace),
                address: try container.decode(String.self, forKey: .address)
            )
        }
    }

    public var passwordFile: String { folder + "/password" }
    public var configFile: String { folder + "/smb.conf" }
    public var logFile: String { folder + "/smbd.log" }

    public static func share(of site: SiteCode) -> String { "SMS_\(site.rawValue)" }

    /// The SMB account's credentials (the password from its 0600 file).
    public func credentials() throws(LabError) -> SMBCredentials {
        SMBCredentials(user: user, password: try password().bytes)
    }

    /// The SMB password, read as every password file of siteloc is.
    public func password() throws(LabError) -> Secret {
        do {
            return try Secret(contentsOf: URL(fileURLWithPath: passwordFile))
        } catch {
            throw LabError("\(error); start the lab with: siteloc lab up --hierarchy FILE")
        }
    }
}

extension Lab {
    /// `<lab>/sites`: one folder per site server (SiteFolders).
    public var sitesDirectory: URL { directory.appendingPathComponent("sites", isDirectory: true) }

    var fileSharesFolder: String { directory.path + "/smb" }
    private var fileSharesState: String { fileSharesFolder + "/smbd.json" }

    /// The lab's smbd, if one was started.
    public func fileShares() -> LabFileShares? {
        guard let data = FileManager.default.contents(atPath: fileSharesState) else { return nil }
        return try? JSONDecoder().decode(LabFileShares.self, from: data)
    }

    /// Whether the recorded smbd is alive and ours.
    public func fileSharesRunning() -> Bool {
        guard let shares = fileShares(), let pid = shares.pid else { return false }
        return Self.isSmbd(pid, config: shares.configFile)
    }

    /// Starts (or reconfigures) the lab's smbd with a share for each site of the hierarchy. Shares for sites
    /// added since the last start are picked up by a configuration reload; a new `placement` restarts smbd.
    @discardableResult
    public func upFileShares(
        hierarchy: Hierarchy,
        placement: LabFileShares.Placement? = nil
    ) async throws(LabError) -> LabFileShares {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/smbd") else {
            throw LabError("smbd is not installed (expected /usr/sbin/smbd); install it with: apt-get install samba")
        }
        let folder = fileSharesFolder
        for sub in ["", "/state", "/lock", "/cache", "/pid", "/private", "/ncalrpc", "/usershares"] {
            try PrivateFiles.createFolder(folder + sub)
        }
        // smbd switches to the SMB user, which must be able to reach the shares.
        chmod(directory.path, 0o755)
        chmod(folder, 0o755)
        var shares =
            fileShares()
            ?? LabFileShares(port: 0, pid: nil, user: Self.currentUser(), folder: folder)
        let sites = hierarchy.sites.map(\.code)
        for site in sites {
            let inbox = SiteFolders(site: site, sitesDirectory: sitesDirectory).inbox.path
            do {
                try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
            } catch {
                throw LabError("cannot create \(inbox): \(error.localizedDescription)")
            }
        }
        let passwordIsNew = !FileManager.default.fileExists(atPath: shares.passwordFile)
        if passwordIsNew { try PrivateFiles.write(shares.passwordFile, PrivateFiles.randomPassword()) }
        if shares.port == 0 { shares.port = try ProcessControl.freeLoopbackPort() }
        if shares.placement != placement, let pid = shares.pid {
            if Self.isSmbd(pid, config: shares.configFile) { await ProcessControl.stop(pid) }
            shares.pid = nil
        }
        shares.placement = placement
        try writeConfiguration(shares, sites: sites)
        if passwordIsNew || !FileManager.default.fileExists(atPath: folder + "/private/passdb.tdb") {
            try await addSMBUser(shares)
        }
        if let pid = shares.pid, Self.isSmbd(pid, config: shares.configFile) {
            kill(pid, SIGHUP)
        } else {
            // smbd is started in its own session, so it must not try to create one (--no-process-group); on
            // SIGTERM it signals its own process group, which is then only itself and its children.
            let smbd = [
                "/usr/sbin/smbd", "--foreground", "--no-process-group", "--configfile=\(shares.configFile)",
                "--debug-stdout", "-d", "1",
            ]
            // `ip netns exec` enters the namespace and becomes smbd (exec, no fork): the pid is smbd's.
            let command = placement.map { ["/usr/sbin/ip", "netns", "exec", $0.namespace] + smbd } ?? smbd
            shares.pid = try ProcessControl.spawnDetached(
                command[0],
                Array(command.dropFirst()),
                logFile: shares.logFile
            )
        }
        try saveFileShares(shares)
        try await waitForShares(shares, site: sites.first)
        logger.info("lab file shares up", metadata: ["smb.port": "\(shares.port)", "shares": "\(sites.count)"])
        return shares
    }

    /// Stops the lab's smbd.
    public func downFileShares() async {
        guard var shares = fileShares(), let pid = shares.pid else { return }
        if Self.isSmbd(pid, config: shares.configFile) { await ProcessControl.stop(pid) }
        shares.pid = nil
        try? saveFileShares(shares)
    }

    private func waitForShares(_ shares: LabFileShares, site: SiteCode?) async throws(LabError) {
        guard let site, let pid = shares.pid else { return }
        let credentials = try shares.credentials()
        let deadline = ContinuousClock.now + .seconds(10)
        var lastError = "no answer"
        while ContinuousClock.now < deadline {
            guard ProcessControl.isAlive(pid) else {
                throw LabError(
                    "smbd stopped at start. The end of its log (\(shares.logFile)):\n\(ProcessControl.tail(shares.logFile))"
                )
            }
            do {
                let share = try await SMBShare(
                    host: shares.host,
                    port: shares.port,
                    share: LabFileShares.share(of: site),
                    credentials: credentials,
                    timeout: .seconds(2)
                )
                try await share.connect()
                return
            } catch {
                lastError = error.description
            }
            try? await Task.sleep(for: .milliseconds(30))
        }
        throw LabError("smbd on port \(shares.port) did not answer within 10 s (\(lastError)); see \(shares.logFile)")
    }

    private func writeConfiguration(_ shares: LabFileShares, sites: [SiteCode]) throws(LabError) {
        let folder = shares.folder
        var text = """
            [global]
                server role = standalone server
                workgroup = WORKGROUP
                netbios name = SITELOCLAB
                smb ports = \(shares.port)
                interfaces = \(shares.host)
                bind interfaces only = yes
                disable netbios = yes
                server min protocol = SMB2_02
                map to guest = never
                restrict anonymous = 2
                rpc start on demand helpers = no
                passdb backend = tdbsam:\(folder)/private/passdb.tdb
                state directory = \(folder)/state
                lock directory = \(folder)/lock
                cache directory = \(folder)/cache
                pid directory = \(folder)/pid
                private dir = \(folder)/private
                ncalrpc dir = \(folder)/ncalrpc
                usershare path = \(folder)/usershares
                log file = \(folder)/log.%m
                log level = 1
                load printers = no
                printing = bsd
                printcap name = /dev/null
                disable spoolss = yes

            """
        for site in sites {
            text += """
                [\(LabFileShares.share(of: site))]
                    path = \(sitesDirectory.path)/\(site.rawValue)/inbox
                    read only = no
                    valid users = \(shares.user)
                    create mask = 0664
                    directory mask = 0775

                """
        }
        try PrivateFiles.write(shares.configFile, text)
    }

    private func addSMBUser(_ shares: LabFileShares) async throws(LabError) {
        let secret = Data(try shares.password().bytes) + Data("\n".utf8)
        // The password goes through standard input, never an argument.
        _ = try await ProcessControl.run(
            "/usr/bin/pdbedit",
            ["-s", shares.configFile, "-a", "-u", shares.user, "-t"],
            input: secret + secret
        )
    }

    private func saveFileShares(_ shares: LabFileShares) throws(LabError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(shares) else { throw LabError("cannot encode the SMB state") }
        try PrivateFiles.write(fileSharesState, String(decoding: data, as: UTF8.self))
    }

    static func isSmbd(_ pid: Int32, config: String) -> Bool {
        ProcessControl.runs(pid, program: "smbd", with: "--configfile=\(config)")
    }

    static func currentUser() -> String {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return "root" }
        return String(cString: name)
    }
}
