public import Foundation
import SiteModel

#if canImport(Glibc)
import Glibc
#endif

/// How every site-server file writes JSON: sorted keys, and dates in ISO 8601 to the millisecond (a retry delay
/// under a second must survive being written down); both forms of date are read.
enum RecordCoding {
    static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(string(date))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = milliseconds().date(from: text) ?? ISO8601DateFormatter().date(from: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: text))
            }
            return date
        }
        return decoder
    }

    static func string(_ date: Date) -> String { milliseconds().string(from: date) }

    private static func milliseconds() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}

/// `events.log`: one JSON object per line, appended with O_APPEND so lines from a dying process never interleave.
struct EventLog: Sendable {
    let file: URL

    func record(_ event: String, job: JobHeader? = nil, detail: String? = nil, file name: String? = nil) {
        var entry: [String: String] = ["at": RecordCoding.string(Date()), "event": event]
        if let job {
            entry["job"] = job.id
            entry["package"] = job.package
            entry["from"] = job.signer.rawValue
            entry["destination"] = job.destination.rawValue
        }
        if let detail { entry["detail"] = detail }
        if let name { entry["file"] = name }
        guard var line = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]) else { return }
        line.append(UInt8(ascii: "\n"))
        let descriptor = open(file.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// One line of `events.log`, as read back by `siteloc site status` and tests.
public struct SiteEvent: Codable, Sendable {
    public var at: String
    public var event: String
    public var job: String?
    public var package: String?
    public var from: String?
    public var destination: String?
    public var detail: String?
    public var file: String?

    public static func read(_ folders: SiteFolders) -> [SiteEvent] {
        guard let text = try? String(contentsOf: folders.events, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(SiteEvent.self, from: Data($0.utf8)) }
    }
}

/// `server.json`: the running server's pid (nil once it stopped) and its last heartbeat.
public struct SiteServerState: Codable, Sendable {
    public var pid: Int32?
    public var started: Date
    public var heartbeat: Date

    func write(_ folders: SiteFolders) {
        guard let data = try? RecordCoding.encoder().encode(self) else { return }
        try? AtomicFile.write(folders.serverState, contents: data, durable: false)
    }

    public static func read(_ folders: SiteFolders) -> SiteServerState? {
        RegularFile.contents(of: folders.serverState).flatMap {
            try? RecordCoding.decoder().decode(Self.self, from: $0)
        }
    }

    /// Whether a server holds the site's lock right now (a killed server's lock is released by the kernel).
    public static func isRunning(_ folders: SiteFolders) -> Bool {
        let descriptor = open(folders.lock.path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return false
        }
        return true
    }
}

/// `outbox/<id>.state.json`: where a waiting job stands.
public struct OutboxState: Codable, Sendable {
    public var status = "queued"
    public var nextHop: String?
    public var address: String?
    public var attempts = 0
    /// Priorities of the addresses that failed after their retries (or whose sender is not installed).
    public var failedAddresses: [Int] = []
    public var nextAttempt: Date?
    public var lastError: String?
    public var sentBytes: Int64 = 0
    public var totalBytes: Int64?

    static func file(_ folders: SiteFolders, _ id: String) -> URL {
        folders.outbox.appendingPathComponent(id + ".state.json")
    }

    public static func read(_ folders: SiteFolders, _ id: String) -> OutboxState {
        RegularFile.contents(of: file(folders, id)).flatMap { try? RecordCoding.decoder().decode(Self.self, from: $0) }
            ?? OutboxState()
    }

    func write(_ folders: SiteFolders, _ id: String) {
        guard let data = try? RecordCoding.encoder().encode(self) else { return }
        try? AtomicFile.write(Self.file(folders, id), contents: data, durable: false)
    }

    static func update(_ folders: SiteFolders, _ id: String, _ change: (inout OutboxState) -> Void) {
        var state = read(folders, id)
        change(&state)
        state.write(folders, id)
    }

    static func remove(_ folders: SiteFolders, _ id: String) {
        unlink(file(folders, id).path)
    }
}
