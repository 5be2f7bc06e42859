/// What a distribution point sends for one request's conditional and range headers (RFC 9110 §13 and §14), for
/// content of `size` bytes whose strong entity tag is `etag` and whose `Last-Modified` is `lastModified` (seconds
/// since 1970, the version's creation time). Pure: the tests run every case without a server.
public enum RangeAnswer: Equatable, Sendable {
    /// 200 with the whole content.
    case whole
    /// 206 with bytes `lower...upper` (inclusive) and `Content-Range: bytes lower-upper/size`.
    case part(lower: Int64, upper: Int64)
    /// 206 `multipart/byteranges`, one part each, in the order asked.
    case parts([ClosedRange<Int64>])
    /// 416 with `Content-Range: bytes */size`: no byte of the range exists.
    case unsatisfiable
    /// 304: the client's copy is this version.
    case notModified
    /// 412: the client asked for another version (`If-Match`, `If-Unmodified-Since`).
    case preconditionFailed

    /// The most ranges answered as `multipart/byteranges`; more are answered with the whole content (RFC 9110 lets a
    /// server ignore `Range`; BITS asks for at most a few at once).
    public static let mostParts = 16

    /// The request's headers as it sent them (nil when absent).
    public struct Conditions: Sendable {
        public var range: String?
        public var ifRange: String?
        public var ifMatch: String?
        /// `If-Unmodified-Since`, or WinINet's `Unless-Modified-Since`.
        public var ifUnmodifiedSince: String?
        public var ifNoneMatch: String?
        public var ifModifiedSince: String?

        public init(
            range: String? = nil,
            ifRange: String? = nil,
            ifMatch: String? = nil,
            ifUnmodifiedSince: String? = nil,
            ifNoneMatch: String? = nil,
            ifModifiedSince: String? = nil
        ) {
            self.range = range
            self.ifRange = ifRange
            self.ifMatch = ifMatch
            self.ifUnmodifiedSince = ifUnmodifiedSince
            self.ifNoneMatch = ifNoneMatch
            self.ifModifiedSince = ifModifiedSince
        }
    }

    /// RFC 9110 §13.2.2's order: `If-Match`, else `If-Unmodified-Since`; `If-None-Match`, else `If-Modified-Since`;
    /// then `Range` under `If-Range`. A date that does not parse is ignored, as the RFC asks.
    public static func answer(
        _ conditions: Conditions,
        size: Int64,
        etag: String,
        lastModified: Int64
    ) -> RangeAnswer {
        if let ifMatch = conditions.ifMatch {
            guard EntityTags.list(ifMatch, contains: etag, weak: false) else { return .preconditionFailed }
        } else if let text = conditions.ifUnmodifiedSince, let date = HTTPDate.parse(text), lastModified > date {
            return .preconditionFailed
        }
        if let ifNoneMatch = conditions.ifNoneMatch {
            if EntityTags.list(ifNoneMatch, contains: etag, weak: true) { return .notModified }
        } else if let text = conditions.ifModifiedSince, let date = HTTPDate.parse(text), lastModified <= date {
            return .notModified
        }
        guard let range = conditions.range else { return .whole }
        if let ifRange = conditions.ifRange?.trimmingASCIISpaces {
            // A strong tag equal to ours, or exactly our Last-Modified date; anything else: the whole content.
            let holds = ifRange.hasPrefix("\"") ? ifRange == etag : HTTPDate.parse(ifRange) == lastModified
            guard holds else { return .whole }
        }
        guard let specs = ByteRangeSpec.list(range) else { return .whole }
        var parts: [ClosedRange<Int64>] = []
        for spec in specs {
            switch spec {
            case .from(let first, let last):
                if first < size { parts.append(first...min(last ?? (size - 1), size - 1)) }
            case .suffix(let count):
                if count > 0, size > 0 { parts.append(max(0, size - count)...(size - 1)) }
            }
        }
        guard let first = parts.first else { return .unsatisfiable }
        if parts.count == 1 { return .part(lower: first.lowerBound, upper: first.upperBound) }
        // Overlapping or many ranges cost more than the whole (RFC 9110 §14.2): the whole, with 200.
        let ascending = zip(parts, parts.dropFirst()).allSatisfy { $0.upperBound < $1.lowerBound }
        guard parts.count <= mostParts, ascending else { return .whole }
        return .parts(parts)
    }
}

/// One byte range of a `Range: bytes=…` header.
enum ByteRangeSpec: Equatable {
    /// `first-last` or `first-`.
    case from(Int64, Int64?)
    /// `-count`: the last `count` bytes.
    case suffix(Int64)

    /// Every range of a `bytes=` header; nil when any of them is malformed (the header is then ignored), or there are
    /// more than 100 (no client needs that many, and each costs work).
    static func list(_ header: String) -> [ByteRangeSpec]? {
        let text = header.trimmingASCIISpaces
        guard text.hasPrefix("bytes=") else { return nil }
        let items = text.dropFirst("bytes=".count).split(separator: ",", omittingEmptySubsequences: false)
        guard items.count <= 100 else { return nil }
        var specs: [ByteRangeSpec] = []
        for item in items {
            guard let spec = ByteRangeSpec(String(item)) else { return nil }
            specs.append(spec)
        }
        return specs
    }

    /// One range, `a-b`, `a-` or `-n`.
    init?(_ item: String) {
        let set = item.trimmingASCIISpaces
        guard let dash = set.firstIndex(of: "-") else { return nil }
        let first = set[..<dash].trimmingASCIISpaces
        let last = set[set.index(after: dash)...].trimmingASCIISpaces
        if first.isEmpty {
            guard let count = Self.number(last) else { return nil }
            self = .suffix(count)
            return
        }
        guard let start = Self.number(first) else { return nil }
        if last.isEmpty {
            self = .from(start, nil)
            return
        }
        guard let end = Self.number(last), end >= start else { return nil }
        self = .from(start, end)
    }

    /// Digits only, at most 18 of them (no sign, no overflow).
    private static func number(_ text: String) -> Int64? {
        guard !text.isEmpty, text.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int64(text)
    }
}

/// Entity-tag lists of `If-Match` and `If-None-Match` (RFC 9110 §8.8.3, §13.1.1).
enum EntityTags {
    /// Whether `header` (`*` or a list of tags) names `etag`. Strong comparison (`If-Match`) takes no weak tag; weak
    /// comparison (`If-None-Match`) compares the opaque parts.
    static func list(_ header: String, contains etag: String, weak: Bool) -> Bool {
        let text = header.trimmingASCIISpaces
        if text == "*" { return true }
        for item in text.split(separator: ",") {
            var tag = item.trimmingASCIISpaces
            if tag.hasPrefix("W/") {
                guard weak else { continue }
                tag = String(tag.dropFirst(2))
            }
            if tag == etag { return true }
        }
        return false
    }
}

/// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in. Seconds since 1970, UTC.
public enum HTTPDate {
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func format(_ seconds: Int64) -> String {
        let day = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let time = seconds - day * 86_400
        let (year, month, dayOfMonth) = civil(fromDays: day)
        let weekday = days[Int(((day % 7) + 7) % 7)]
        return "\(weekday), \(two(dayOfMonth)) \(months[month - 1]) \(year) "
            + "\(two(Int(time / 3600))):\(two(Int(time / 60 % 60))):\(two(Int(time % 60))) GMT"
    }

    /// The seconds a date names; nil when it is none of the three forms.
    public static func parse(_ text: String) -> Int64? {
        let words = text.trimmingASCIISpaces.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch words.count {
        case 6 where words[5] == "GMT" && words[0].hasSuffix(","):
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            return seconds(day: words[1], month: words[2], year: words[3], time: words[4], twoDigitYear: false)
        case 4 where words[3] == "GMT" && words[0].hasSuffix(","):
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let parts = words[1].split(separator: "-").map(String.init)
            guard parts.count == 3 else { return nil }
            return seconds(day: parts[0], month: parts[1], year: parts[2], time: words[2], twoDigitYear: true)
        case 5:
            // asctime: Sun Nov  6 08:49:37 1994
            return seconds(day: words[2], month: words[1], year: words[4], time: words[3], twoDigitYear: false)
        default:
            return nil
        }
    }

    private static func seconds(
        day: String,
        month: String,
        year: String,
        time: String,
        twoDigitYear: Bool
    ) -> Int64? {
        guard let monthIndex = months.firstIndex(of: month), let dayNumber = digits(day, 1...2),
            var yearNumber = digits(year, twoDigitYear ? 2...2 : 4...4), (1...31).contains(dayNumber)
        else { return nil }
        // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
        if twoDigitYear { yearNumber += yearNumber < 70 ? 2000 : 1900 }
        let clock = time.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard clock.count == 3, let hour = digits(clock[0], 2...2), let minute = digits(clock[1], 2...2),
            let second = digits(clock[2], 2...2), hour < 24, minute < 60, second < 61
        else { return nil }
        let day = daysFromCivil(year: yearNumber, month: monthIndex + 1, day: dayNumber)
        return day * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    private static func digits(_ text: String, _ count: ClosedRange<Int>) -> Int? {
        guard count.contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(text)
    }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// Howard Hinnant's days-from-civil and its inverse, for the proleptic Gregorian calendar.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = Int64((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0), month, day)
    }
}

extension StringProtocol {
    var trimmingASCIISpaces: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
