import Foundation
import SiteServer
import SiteServices
import SystemCrypto
import Testing

/// What real download clients send a distribution point (docs/content-services.md, "What real clients rely on"):
/// the same validators on every DP holding a version, conditional requests, several ranges, HEAD = GET's headers,
/// and WebDAV as Configuration Manager's client starts a download. The answers are the routes' own, asked without a
/// socket; the real clients themselves go over sockets (`RealDownloadClients`).
extension ContentServices {
    @Test func realClientsGetValidatorsConditionsRangesAndWebDAVAsTheRFCsSay() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        let content = Data((0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let placement = try fixture.place("CEN00001", at: "P01", bytes: content)
        let etag = "\"\(placement.version)\""
        let lastModified = HTTPDate.format(Int64(placement.created.timeIntervalSince1970.rounded(.down)))
        let earlier = HTTPDate.format(Int64(placement.created.timeIntervalSince1970.rounded(.down)) - 1)
        let digest = Data(SHA256.hash(data: content).bytes).base64EncodedString()
        do {
            func ask(
                _ dp: String = "p01-dp.corp.contoso.com",
                _ method: String = "GET",
                _ path: String = "/SMS_DP_SMSPKG$/CEN00001/",
                _ headers: String = ""
            ) async throws -> RawHTTP.Answer {
                try await fixture.routed(dp, method, path, headers: headers)
            }
            // Every DP holding the version answers with the same validators and digests.
            let whole = try await ask()
            let other = try await ask("p01-dp-secure.corp.contoso.com")
            for answer in [whole, other] {
                #expect(answer.status == 200 && answer.body == content)
                #expect(answer.headers["etag"] == etag && answer.headers["last-modified"] == lastModified)
                #expect(answer.headers["digest"] == "SHA-256=\(digest)")
                #expect(answer.headers["repr-digest"] == "sha-256=:\(digest):")
            }
            // HEAD carries GET's headers, and no body.
            let head = try await ask("p01-dp.corp.contoso.com", "HEAD")
            var getHeaders = whole.headers
            var headHeaders = head.headers
            getHeaders["date"] = nil
            headHeaders["date"] = nil
            #expect(head.body.isEmpty && headHeaders == getHeaders)

            // Preconditions: another version is 412, this one goes ahead.
            for header in [
                "If-Match: \"sha256:other\"", "If-Match: W/\(etag)", "If-Unmodified-Since: \(earlier)",
                "Unless-Modified-Since: \(earlier)",
            ] {
                let refused = try await ask("p01-dp.corp.contoso.com", "GET", "/SMS_DP_SMSPKG$/CEN00001/", header)
                #expect(refused.status == 412, "\(header)")
                #expect(refused.headers["etag"] == etag)
            }
            for header in ["If-Match: \(etag)", "If-Match: *", "If-Unmodified-Since: \(lastModified)"] {
                #expect(
                    try await ask("p01-dp.corp.contoso.com", "GET", "/SMS_DP_SMSPKG$/CEN00001/", header).status == 200
                )
            }
            // The client's copy is this version: 304 with the validators and no body.
            for header in ["If-None-Match: \(etag)", "If-None-Match: W/\(etag)", "If-Modified-Since: \(lastModified)"] {
                let same = try await ask("p01-dp.corp.contoso.com", "GET", "/SMS_DP_SMSPKG$/CEN00001/", header)
                #expect(same.status == 304 && same.body.isEmpty && same.headers["etag"] == etag, "\(header)")
            }
            #expect(
                try await ask(
                    "p01-dp.corp.contoso.com",
                    "GET",
                    "/SMS_DP_SMSPKG$/CEN00001/",
                    "If-Modified-Since: \(earlier)"
                )
                .status == 200
            )
            // If-Range with the exact Last-Modified keeps the range.
            let resumed = try await ask(
                "p01-dp.corp.contoso.com",
                "GET",
                "/SMS_DP_SMSPKG$/CEN00001/",
                "Range: bytes=900-\r\nIf-Range: \(lastModified)"
            )
            #expect(resumed.status == 206 && resumed.body == content[900...])

            // A few ranges: multipart/byteranges, each part with its Content-Range.
            let parts = try await ask(
                "p01-dp.corp.contoso.com",
                "GET",
                "/SMS_DP_SMSPKG$/CEN00001/",
                "Range: bytes=0-9,500-509"
            )
            let type = try #require(parts.headers["content-type"])
            #expect(parts.status == 206 && type.hasPrefix("multipart/byteranges; boundary="))
            #expect(parts.headers["content-length"] == String(parts.body.count))
            let boundary = String(type.dropFirst("multipart/byteranges; boundary=".count))
            var expected = Data("--\(boundary)\r\nContent-Type: application/octet-stream\r\n".utf8)
            expected += Data("Content-Range: bytes 0-9/1000\r\n\r\n".utf8) + content[0..<10]
            expected += Data("\r\n--\(boundary)\r\nContent-Type: application/octet-stream\r\n".utf8)
            expected += Data("Content-Range: bytes 500-509/1000\r\n\r\n".utf8) + content[500..<510]
            expected += Data("\r\n--\(boundary)--\r\n".utf8)
            #expect(parts.body == expected)

            // WebDAV: the folder and its one member, with GET's size, ETag and date.
            let listing = try await ask("p01-dp.corp.contoso.com", "PROPFIND", "/SMS_DP_SMSPKG$/CEN00001/", "Depth: 1")
            let text = String(decoding: listing.body, as: UTF8.self)
            #expect(listing.status == 207 && listing.headers["content-type"]?.hasPrefix("application/xml") == true)
            #expect(text.components(separatedBy: "<D:response>").count == 3)
            #expect(text.contains("<D:href>/SMS_DP_SMSPKG$/CEN00001/content</D:href>"))
            #expect(text.contains("<D:getcontentlength>1000</D:getcontentlength>"))
            #expect(text.contains("<D:getetag>\(etag)</D:getetag>"))
            #expect(text.contains("<D:getlastmodified>\(lastModified)</D:getlastmodified>"))
            let folderOnly = try await ask(
                "p01-dp.corp.contoso.com",
                "PROPFIND",
                "/SMS_DP_SMSPKG$/CEN00001/",
                "Depth: 0"
            )
            #expect(String(decoding: folderOnly.body, as: UTF8.self).components(separatedBy: "<D:response>").count == 2)
            for depth in ["Depth: infinity", ""] {
                let refused = try await ask("p01-dp.corp.contoso.com", "PROPFIND", "/SMS_DP_SMSPKG$/CEN00001/", depth)
                #expect(
                    refused.status == 403
                        && String(decoding: refused.body, as: UTF8.self).contains("propfind-finite-depth")
                )
            }
            // The member is the content.
            let member = try await ask("p01-dp.corp.contoso.com", "GET", "/SMS_DP_SMSPKG$/CEN00001/content")
            #expect(member.status == 200 && member.body == content && member.headers["etag"] == etag)
            let options = try await ask("p01-dp.corp.contoso.com", "OPTIONS")
            #expect(options.status == 200 && options.headers["allow"]?.contains("PROPFIND") == true)
            #expect(options.headers["dav"] == "1")
            // Other WebDAV methods, and writing, are not served.
            for method in ["PROPPATCH", "MKCOL", "PUT", "DELETE", "COPY", "MOVE", "LOCK", "UNLOCK"] {
                let answer = try await ask("p01-dp.corp.contoso.com", method)
                #expect(answer.status == 405, "\(method): \(answer.status)")
            }
            // A URL naming the version is served by the DPs holding it, and 404 where another version is.
            let pinned = "/SMS_DP_SMSPKG$/CEN00001/?version=\(placement.version)"
            #expect(try await ask("p01-dp-secure.corp.contoso.com", "GET", pinned).body == content)
            _ = try fixture.place("CEN00001", at: "CEN", bytes: Data(content.reversed()))
            let elsewhere = try await ask("cen-dp1.corp.contoso.com", "GET", pinned, "Range: bytes=500-")
            #expect(elsewhere.status == 404, "\(elsewhere.status)")
            #expect(try await ask("cen-dp1.corp.contoso.com", "GET").status == 200)
            // A package not placed on this DP is 404 for WebDAV too.
            #expect(
                try await ask("cen-dp1.corp.contoso.com", "PROPFIND", "/SMS_DP_SMSPKG$/CEN00002/", "Depth: 1").status
                    == 404
            )
        }
    }
}
