public import DirectoryServing
public import Foundation
public import SiteModel

/// Where a site-system host of the lab listens: written by the `siteloc site run` that serves it, read by clients
/// (which resolve site-system host names through it, as they would through DNS in a deployment) and by
/// `siteloc lab status`. One file per host, `<lab>/systems/<host>.json`.
public struct LabSystem: Codable, Sendable, Hashable {
    public var host: String
    public var site: String
    public var roles: [String]
    /// `http://127.0.0.1:PORT`
    public var url: String
    public var pid: Int32

    public init(host: String, site: String, roles: [String], url: String, pid: Int32) {
        self.host = host
        self.site = site
        self.roles = roles
        self.url = url
        self.pid = pid
    }
}

extension Lab {
    var systemsFolder: URL { directory.appendingPathComponent("systems", isDirectory: true) }

    private func systemFile(_ host: String) -> URL? {
        // Host names come from the hierarchy file, which validated them as DNS names; never from a request.
        guard let name = DNSName.normalized(host) else { return nil }
        return systemsFolder.appendingPathComponent(name + ".json")
    }

    /// Records that `system` listens at `url`, served by this process.
    public func record(_ system: SiteSystem, of site: SiteCode, url: URL) throws(LabError) {
        guard let file = systemFile(system.host) else {
            throw LabError("\(system.host) is not a host name", kind: .badInput)
        }
        let record = LabSystem(
            host: system.host,
            site: site.rawValue,
            roles: system.roles.map(\.rawValue).sorted(),
            url: url.absoluteString,
            pid: getpid()
        )
        do {
            try FileManager.default.createDirectory(at: systemsFolder, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(record).write(to: file, options: .atomic)
        } catch {
            throw LabError("cannot record where \(system.host) listens in \(systemsFolder.path): \(error)")
        }
    }

    /// Forgets where `host` listened, if this process recorded it.
    public func forgetSystem(_ host: String) {
        guard let file = systemFile(host), let record = readSystem(file), record.pid == getpid() else { return }
        unlink(file.path)
    }

    /// The site-system hosts that listen now (their serving process is alive), by host name.
    public func systems() -> [LabSystem] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: systemsFolder.path)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasSuffix(".json"), let record = readSystem(systemsFolder.appendingPathComponent(name)),
                ProcessControl.isAlive(record.pid)
            else { return nil }
            return record
        }
    }

    /// Where a site-system host listens now; nil when no running `site run` serves it.
    public func systemURL(_ host: String) -> URL? {
        guard let file = systemFile(host), let record = readSystem(file), ProcessControl.isAlive(record.pid) else {
            return nil
        }
        return URL(string: record.url)
    }

    private func readSystem(_ file: URL) -> LabSystem? {
        guard let data = try? Data(contentsOf: file), data.count < 64 * 1024 else { return nil }
        return try? JSONDecoder().decode(LabSystem.self, from: data)
    }
}
