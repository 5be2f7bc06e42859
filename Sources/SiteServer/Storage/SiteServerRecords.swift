public import Foundation
import SiteModel
import SystemCalls

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
            guard let date = InternetDate.parse(text) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 date in UTC")
                )
            }
            return date
        }
        return decoder
    }

    static func string(_ date: Date) -> String { InternetDate.string(date) }
}

/// RFC 3339 dates in UTC as records and jobs write them, `2026-11-30T10:00:00Z` or with up to nine digits of
/// fractions, read without ICU: a crafted date (a fraction of a hundred digits) made ICU's date parser divide by zero
/// and kill the process — found by fuzzing the job-file parser.
enum InternetDate {
    static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 30, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard ASCII.isDigit(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        let separators: [(Int, UInt8)] = [(4, 45), (7, 45), (10, 84), (13, 58), (16, 58)]  // - - T : :
        guard separators.allSatisfy({ bytes[$0.0] == $0.1 }), let year = number(0..<4), let month = number(5..<7),
            let day = number(8..<10), let hour = number(11..<13), let minute = number(14..<16),
            let second = number(17..<19), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var fraction = 0.0
        let end = bytes.count - 1
        if end > 19 {
            guard bytes[19] == UInt8(ascii: "."), end - 20 >= 1, end - 20 <= 9, let digits = number(20..<end) else {
                return nil
            }
            fraction = Double(digits) / pow(10, Double(end - 20))
        }
        // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
        let shifted = month <= 2 ? year - 1 : year
        let era = shifted / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = Double(days * 86_400 + hour * 3_600 + minute * 60 + second) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    /// `2026-11-30T10:00:00.250Z`: to the nearest millisecond, in UTC. Written by arithmetic: a site server
    /// writes a date into every record and event, and an ICU formatter costs more to create than the rest of a hop.
    static func string(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (days, inDay) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let (dayCount, dayMilliseconds) = inDay < 0 ? (days - 1, inDay + 86_400_000) : (days, inDay)
        // The civil date of a day count from 1970-01-01 (Howard Hinnant's algorithm, the inverse of the above).
        let z = Int(dayCount) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let time = Int(dayMilliseconds)
        func digits(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(digits(year, 4))-\(digits(month, 2))-\(digits(day, 2))T\(digits(time / 3_600_000, 2)):"
            + "\(digits(time / 60_000 % 60, 2)):\(digits(time / 1_000 % 60, 2)).\(digits(time % 1_000, 3))Z"
    }
}

/// `events.log`: one JSON object per line, appended with O_APPEND so lines from a dying process never interleave.
/// Each line is also counted (``SiteServerMetrics/event(_:)``).
struct EventLog: Sendable {
    let file: URL
    let metrics: SiteServerMetrics
    let subscribers: SiteServerEvents

    func record(_ event: String, job: JobHeader? = nil, detail: String? = nil, file name: String? = nil) {
        metrics.event(event)
        var entry: [String: String] = ["at": RecordCoding.string(Date()), "event": event]
        if let job {
            entry["job"] = job.id
            entry["package"] = job.package
            entry["from"] = job.signer.rawValue
            entry["destination"] = job.destination.rawValue
        }
        if let detail { entry["detail"] = detail }
        if let name { entry["file"] = name }
        subscribers.publish(SiteEvent(entry))
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

    init(_ entry: [String: String]) {
        at = entry["at"] ?? ""
        event = entry["event"] ?? ""
        job = entry["job"]
        package = entry["package"]
        from = entry["from"]
        destination = entry["destination"]
        detail = entry["detail"]
        file = entry["file"]
    }

    public static func read(_ folders: SiteFolders) -> [SiteEvent] {
        guard let text = try? String(contentsOf: folders.events, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(SiteEvent.self, from: Data($0.utf8)) }
    }
}

/// `server.json`: the running server's pid (nil once it stopped), its last heartbeat, and since when it has had
/// nothing to do (nil while it works: see ``SiteServerEvents``); written at once when that changes.
public struct SiteServerState: Codable, Sendable {
    public var pid: Int32?
    public var started: Date
    public var heartbeat: Date
    public var idleSince: Date?

    init(pid: Int32?, started: Date, heartbeat: Date, idleSince: Date? = nil) {
        self.pid = pid
        self.started = started
        self.heartbeat = heartbeat
        self.idleSince = idleSince
    }

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
