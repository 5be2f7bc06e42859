/// What a distribution point sends for a request's `Range` and `If-Range` headers (RFC 9110 §14), for content of
/// `size` bytes whose strong entity tag is `etag`. Pure: the tests run every case without a server.
public enum RangeAnswer: Equatable, Sendable {
    /// 200 with the whole content.
    case whole
    /// 206 with bytes `lower...upper` (inclusive) and `Content-Range: bytes lower-upper/size`.
    case part(lower: Int64, upper: Int64)
    /// 416 with `Content-Range: bytes */size`: no byte of the range exists.
    case unsatisfiable

    /// `range` and `ifRange` as the request sent them (nil when absent).
    ///
    /// - A `Range` that is not `bytes=` with exactly one range of the forms `a-b`, `a-` or `-n` is ignored (200);
    ///   RFC 9110 allows a server to ignore any Range, and several ranges are not worth a multipart answer here.
    /// - `If-Range` must equal the strong entity tag exactly; anything else (another version, a weak tag, a
    ///   date: this server has no Last-Modified) answers the whole content.
    public static func answer(range: String?, ifRange: String?, size: Int64, etag: String) -> RangeAnswer {
        guard let range else { return .whole }
        if let ifRange, ifRange.trimmingASCIISpaces != etag { return .whole }
        guard let spec = ByteRangeSpec(range) else { return .whole }
        switch spec {
        case .from(let first, let last):
            guard first < size else { return .unsatisfiable }
            return .part(lower: first, upper: min(last ?? (size - 1), size - 1))
        case .suffix(let count):
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .part(lower: max(0, size - count), upper: size - 1)
        }
    }
}

/// One byte range of a `Range: bytes=…` header.
enum ByteRangeSpec: Equatable {
    /// `first-last` or `first-`.
    case from(Int64, Int64?)
    /// `-count`: the last `count` bytes.
    case suffix(Int64)

    init?(_ header: String) {
        let text = header.trimmingASCIISpaces
        guard text.hasPrefix("bytes=") else { return nil }
        let set = text.dropFirst("bytes=".count)
        guard !set.contains(","), let dash = set.firstIndex(of: "-") else { return nil }
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

extension StringProtocol {
    var trimmingASCIISpaces: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
