import Testing

@testable import SiteServices

/// Every `Range` and `If-Range` case a resuming client can send, against content of 1,000 bytes.
@Suite struct ByteRangeTests {
    static let etag = "\"sha256:abc\""

    /// Sun, 06 Nov 1994 08:49:37 GMT: the version's creation time in these tests.
    static let created: Int64 = 784_111_777
    static let lastModified = "Sun, 06 Nov 1994 08:49:37 GMT"

    static func answer(_ range: String?, ifRange: String? = nil, size: Int64 = 1_000) -> RangeAnswer {
        answer(.init(range: range, ifRange: ifRange), size: size)
    }

    static func answer(_ conditions: RangeAnswer.Conditions, size: Int64 = 1_000) -> RangeAnswer {
        RangeAnswer.answer(conditions, size: size, etag: etag, lastModified: created)
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

    @Test func malformedRangesAreIgnored() {
        for header in [
            "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "items=0-1", "bytes=0-1,5-x", "bytes=+1-2",
            "bytes=99999999999999999999-", "bytes= 1 - 2 x", "bytes=0x10-", "bytes=0-1,,5-6",
        ] {
            #expect(Self.answer(header) == .whole, "\(header)")
        }
    }

    @Test func aFewAscendingRangesAreMultipartAndManyOrOverlappingOnesTheWhole() {
        #expect(Self.answer("bytes=0-1,5-6") == .parts([0...1, 5...6]))
        #expect(Self.answer("bytes=0-9, 100-199, -10") == .parts([0...9, 100...199, 990...999]))
        // A part past the end is left out; one part left is a plain 206.
        #expect(Self.answer("bytes=0-9,5000-6000") == .part(lower: 0, upper: 9))
        #expect(Self.answer("bytes=5000-,6000-") == .unsatisfiable)
        // Overlapping, descending, or more than mostParts: the whole content.
        #expect(Self.answer("bytes=0-10,5-20") == .whole)
        #expect(Self.answer("bytes=500-599,0-9") == .whole)
        let many = (0...RangeAnswer.mostParts).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        #expect(Self.answer("bytes=" + many) == .whole)
        let most = (0..<RangeAnswer.mostParts).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        if case .parts(let parts) = Self.answer("bytes=" + most) {
            #expect(parts.count == RangeAnswer.mostParts)
        } else {
            Issue.record("\(RangeAnswer.mostParts) ranges are answered multipart")
        }
    }

    @Test func ifMatchAndIfUnmodifiedSinceRefuseAnotherVersion() {
        #expect(Self.answer(.init(ifMatch: "\"sha256:other\"")) == .preconditionFailed)
        #expect(Self.answer(.init(ifMatch: "W/\(Self.etag)")) == .preconditionFailed)
        #expect(Self.answer(.init(ifMatch: "\"x\", \(Self.etag)")) == .whole)
        #expect(Self.answer(.init(ifMatch: "*")) == .whole)
        #expect(Self.answer(.init(ifUnmodifiedSince: "Sun, 06 Nov 1994 08:49:36 GMT")) == .preconditionFailed)
        #expect(Self.answer(.init(ifUnmodifiedSince: Self.lastModified)) == .whole)
        // A date that does not parse is ignored; If-Match, when present, decides instead of the date.
        #expect(Self.answer(.init(ifUnmodifiedSince: "yesterday")) == .whole)
        #expect(
            Self.answer(.init(ifMatch: Self.etag, ifUnmodifiedSince: "Sun, 06 Nov 1994 08:49:36 GMT")) == .whole
        )
    }

    @Test func ifNoneMatchAndIfModifiedSinceAnswerNotModified() {
        #expect(Self.answer(.init(ifNoneMatch: Self.etag)) == .notModified)
        #expect(Self.answer(.init(ifNoneMatch: "W/\(Self.etag)")) == .notModified)
        #expect(Self.answer(.init(ifNoneMatch: "\"sha256:other\"")) == .whole)
        #expect(Self.answer(.init(ifModifiedSince: Self.lastModified)) == .notModified)
        #expect(Self.answer(.init(ifModifiedSince: "Sun, 06 Nov 1994 08:49:36 GMT")) == .whole)
        // If-None-Match, when present, decides instead of the date.
        #expect(Self.answer(.init(ifNoneMatch: "\"sha256:other\"", ifModifiedSince: Self.lastModified)) == .whole)
    }

    @Test func ifRangeKeepsTheRangeOnlyForTheSameVersion() {
        #expect(Self.answer("bytes=100-", ifRange: Self.etag) == .part(lower: 100, upper: 999))
        #expect(Self.answer("bytes=100-", ifRange: " \(Self.etag) ") == .part(lower: 100, upper: 999))
        // The exact Last-Modified date holds too, in any of the three date forms.
        #expect(Self.answer("bytes=100-", ifRange: Self.lastModified) == .part(lower: 100, upper: 999))
        #expect(Self.answer("bytes=100-", ifRange: "Sunday, 06-Nov-94 08:49:37 GMT") == .part(lower: 100, upper: 999))
        #expect(Self.answer("bytes=100-", ifRange: "Sun Nov  6 08:49:37 1994") == .part(lower: 100, upper: 999))
        // Another version, a weak tag, another date: the whole content, with 200.
        #expect(Self.answer("bytes=100-", ifRange: "\"sha256:other\"") == .whole)
        #expect(Self.answer("bytes=100-", ifRange: "W/\(Self.etag)") == .whole)
        #expect(Self.answer("bytes=100-", ifRange: "Tue, 01 Dec 2026 10:00:00 GMT") == .whole)
        #expect(Self.answer("bytes=2000-", ifRange: "\"sha256:other\"") == .whole)
    }
}

@Suite struct HTTPDateTests {
    @Test func datesRoundTripThroughIMFFixdate() {
        #expect(HTTPDate.format(ByteRangeTests.created) == ByteRangeTests.lastModified)
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        for seconds: Int64 in [0, 1, 86_399, 951_782_400, 1_796_666_000, 4_102_444_800] {
            #expect(HTTPDate.parse(HTTPDate.format(seconds)) == seconds)
        }
    }

    @Test func malformedDatesAreNone() {
        for text in [
            "", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT", "1994-11-06T08:49:37Z",
        ] {
            #expect(HTTPDate.parse(text) == nil, "\(text)")
        }
    }
}
