import Testing

@testable import SiteServices

/// Every `Range` and `If-Range` case a resuming client can send, against content of 1,000 bytes.
@Suite struct ByteRangeTests {
    static let etag = "\"sha256:abc\""

    static func answer(_ range: String?, ifRange: String? = nil, size: Int64 = 1_000) -> RangeAnswer {
        RangeAnswer.answer(range: range, ifRange: ifRange, size: size, etag: etag)
    }

    @Test func rangesInsideTheContentArePartsOfIt() {
        #expect(Self.answer(nil) == .whole)
        #expect(Self.answer("bytes=0-99") == .part(lower: 0, upper: 99))
        #expect(Self.answer("bytes=100-") == .part(lower: 100, upper: 999))
        #expect(Self.answer("bytes=990-5000") == .part(lower: 990, upper: 999))
        #expect(Self.answer("bytes=999-999") == .part(lower: 999, upper: 999))
    }

    @Test func suffixRangesAreTheLastBytes() {
        // Hummingbird's FileMiddleware answered this with the first 11 bytes.
        #expect(Self.answer("bytes=-10") == .part(lower: 990, upper: 999))
        #expect(Self.answer("bytes=-5000") == .part(lower: 0, upper: 999))
        #expect(Self.answer("bytes=-0") == .unsatisfiable)
        #expect(Self.answer("bytes=-1", size: 0) == .unsatisfiable)
    }

    @Test func aRangePastTheEndIsUnsatisfiable() {
        // FileMiddleware answered 206 with a negative length.
        #expect(Self.answer("bytes=2000-") == .unsatisfiable)
        #expect(Self.answer("bytes=1000-1000") == .unsatisfiable)
        #expect(Self.answer("bytes=0-", size: 0) == .unsatisfiable)
    }

    @Test func malformedOrMultipleRangesAreIgnored() {
        for header in [
            "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "items=0-1", "bytes=0-1,5-6", "bytes=+1-2",
            "bytes=99999999999999999999-", "bytes= 1 - 2 x", "bytes=0x10-",
        ] {
            #expect(Self.answer(header) == .whole, "\(header)")
        }
    }

    @Test func ifRangeKeepsTheRangeOnlyForTheSameVersion() {
        #expect(Self.answer("bytes=100-", ifRange: Self.etag) == .part(lower: 100, upper: 999))
        #expect(Self.answer("bytes=100-", ifRange: " \(Self.etag) ") == .part(lower: 100, upper: 999))
        // Another version, a weak tag, a date: the whole content, with 200.
        #expect(Self.answer("bytes=100-", ifRange: "\"sha256:other\"") == .whole)
        #expect(Self.answer("bytes=100-", ifRange: "W/\(Self.etag)") == .whole)
        #expect(Self.answer("bytes=100-", ifRange: "Tue, 01 Dec 2026 10:00:00 GMT") == .whole)
        #expect(Self.answer("bytes=2000-", ifRange: "\"sha256:other\"") == .whole)
    }
}
