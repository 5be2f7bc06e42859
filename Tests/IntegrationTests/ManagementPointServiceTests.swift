import Foundation
import SiteLocation
import SiteModel
import SiteServer
import Testing

/// Management points over HTTP answer as the offline planner does once everything has arrived, offer only what
/// reached their site, and refuse what is not a content location request with the field that is wrong.
@Suite(.timeLimit(.minutes(2))) struct ManagementPointService {
    struct Case: Sendable, CustomStringConvertible {
        var mp: String
        var address: String
        var adSite: String? = nil
        var mode: SiteMode = .mixed
        var allowHTTPRoaming = false
        var fallback = false
        var package: String
        var description: String { "\(mp) \(address) \(adSite ?? "-") \(mode) \(package)" }
    }

    static let cases: [Case] = [
        Case(mp: "p01-mp.corp.contoso.com", address: "10.20.5.5/16", package: "CEN00001"),  // local
        Case(mp: "p01-mp.corp.contoso.com", address: "10.21.1.9/24", package: "CEN00001"),  // slow, protected
        Case(mp: "p01-mp.corp.contoso.com", address: "10.21.1.9/24", fallback: true, package: "CEN00001"),
        Case(mp: "p01-mp.corp.contoso.com", address: "10.22.0.5/24", package: "CEN00002"),  // into the child
        Case(mp: "p01-mp.corp.contoso.com", address: "10.20.5.5/16", mode: .native, package: "CEN00001"),
        Case(
            mp: "p01-mp.corp.contoso.com",
            address: "10.20.5.5/16",
            mode: .native,
            allowHTTPRoaming: true,
            package: "CEN00001"
        ),
        Case(mp: "p01-mp.corp.contoso.com", address: "192.0.2.7/24", adSite: "Paris", package: "CEN00001"),
        Case(mp: "cen-mp.corp.contoso.com", address: "10.30.1.1/16", package: "CEN00002"),  // two levels down
        Case(mp: "cen-mp.corp.contoso.com", address: "2001:db8:10::5/64", package: "CEN00001"),
        Case(mp: "p02-mp.fabrikam.com", address: "10.22.0.5/24", package: "CEN00002"),  // another branch's client
        Case(mp: "p02-mp.fabrikam.com", address: "10.31.0.9/24", package: "CEN00002"),  // S02, which has no MP
    ]

    static func body(_ testCase: Case) -> String {
        var fields = [
            "\"package\":\"\(testCase.package)\"", "\"address\":\"\(testCase.address)\"",
            "\"clientMode\":\"\(testCase.mode.rawValue)\"", "\"allowHTTPRoaming\":\(testCase.allowHTTPRoaming)",
            "\"allowFallbackToUnprotected\":\(testCase.fallback)",
        ]
        if let adSite = testCase.adSite { fields.append("\"adSite\":\"\(adSite)\"") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    @Test func answersMatchTheOfflinePlannerOnceEverythingIsPlaced() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        try fixture.placeEverything()
        try await fixture.serving {
            var offered = 0
            for testCase in Self.cases {
                let site = try #require(
                    fixture.hierarchy.sites.first { $0.managementPoints.contains { $0.host == testCase.mp } }
                )
                let offline = try await SiteDatabaseManagementPoint(
                    site: site.code,
                    host: testCase.mp,
                    hierarchy: fixture.hierarchy
                ).locateContent(
                    ContentRequest(
                        package: testCase.package,
                        address: try ClientAddress(testCase.address),
                        adSite: testCase.adSite,
                        clientMode: testCase.mode,
                        allowHTTPRoaming: testCase.allowHTTPRoaming,
                        allowFallbackToUnprotected: testCase.fallback
                    )
                )
                let answer = try await fixture.ask(testCase.mp, Self.body(testCase))
                #expect(answer.status == 200, "\(testCase)")
                let online = try JSONDecoder().decode(ContentLocationResponse.self, from: answer.body)
                let plain = online.distributionPoints.map {
                    DistributionPointOffer(host: $0.host, site: $0.site, locality: $0.locality, protected: $0.protected)
                }
                #expect(plain == offline.distributionPoints, "\(testCase)")
                for offer in online.distributionPoints {
                    let dp = try fixture.url(offer.host).absoluteString
                    #expect(offer.version == online.version && offer.version != nil, "\(testCase)")
                    let version = try #require(offer.version)
                    #expect(
                        offer.url == dp + "/SMS_DP_SMSPKG$/\(testCase.package)/?version=\(version)",
                        "\(testCase)"
                    )
                }
                offered += online.distributionPoints.count
            }
            #expect(offered > 5, "the table offers distribution points at all")
        }
    }

    @Test func aPlacementThatHasNotArrivedIsNotOffered() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        try fixture.place("CEN00002", at: "CEN", bytes: Data("v1".utf8))
        try await fixture.serving {
            let request = #"{"package":"CEN00002","address":"10.22.0.5/24","clientMode":"mixed"}"#
            let before = try JSONDecoder().decode(
                ContentLocationResponse.self,
                from: try await fixture.ask("p01-mp.corp.contoso.com", request).body
            )
            #expect(before.distributionPoints.isEmpty && before.version == nil, "\(before.trace)")
            let placed = try fixture.place("CEN00002", at: "S01", bytes: Data("v1".utf8))
            let after = try JSONDecoder().decode(
                ContentLocationResponse.self,
                from: try await fixture.ask("p01-mp.corp.contoso.com", request).body
            )
            #expect(after.distributionPoints.map(\.host) == ["s01-mp.corp.contoso.com"])
            #expect(after.version == placed.version)
        }
    }

    @Test func badRequestsAreRefusedWithTheFieldThatIsWrong() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        // What the routes answer; the socket is not the point (framing errors are, below).
        do {
            let mp = "p01-mp.corp.contoso.com"
            let cases: [(body: String, status: Int, field: String?)] = [
                ("{}", 400, "package"),
                (#"{"package":5,"address":"10.0.0.1/24","clientMode":"mixed"}"#, 400, "package"),
                (#"{"package":"../../etc","address":"10.0.0.1/24","clientMode":"mixed"}"#, 400, "package"),
                (#"{"package":"CEN00001","address":"banana","clientMode":"mixed"}"#, 400, "address"),
                (#"{"package":"CEN00001","address":"10.0.0.1","clientMode":"mixed"}"#, 400, "address"),
                (#"{"package":"CEN00001","address":"10.0.0.1/24","clientMode":"weird"}"#, 400, "clientMode"),
                (
                    #"{"package":"CEN00001","address":"10.0.0.1/24","clientMode":"mixed","adSite":"a\u0001b"}"#, 400,
                    "adSite"
                ),
                (#"{"package":"CEN00001","address":"10.0.0.1/24"}"#, 400, "clientMode"),
                ("not json", 400, nil),
                (#"{"package":"ZZZ00001","address":"10.0.0.1/24","clientMode":"mixed"}"#, 404, nil),
                (
                    #"{"package":"CEN00001","address":"10.0.0.1/24","clientMode":"mixed","x":""#
                        + String(repeating: "a", count: 20_000) + #""}"#, 413, nil
                ),
            ]
            for (body, status, field) in cases {
                let answer = try await fixture.routed(mp, "POST", "/siteloc/v1/content-location", body: body)
                #expect(answer.status == status, "\(body.prefix(80))")
                let problem = try? JSONDecoder().decode(ServiceProblem.self, from: answer.body)
                #expect(problem?.status == status, "\(body.prefix(80))")
                if let field { #expect(problem?.field == field, "\(body.prefix(80))") }
                #expect(answer.headers["content-type"] == "application/problem+json")
            }
            // The service still answers after all that.
            #expect(
                try await fixture.routed(mp, "POST", "/siteloc/v1/content-location", body: Self.body(Self.cases[0]))
                    .status == 200
            )
        }
    }

    /// A body framed wrongly (a chunk size that is not hexadecimal) is malformed, not too large: 400, not 413.
    @Test func aBodyThatCannotBeReadIsABadRequestNotATooLargeOne() async throws {
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        try await fixture.serving {
            let mp = "p01-mp.corp.contoso.com"
            let answer = try await RawHTTP.send(
                port: try #require(try fixture.url(mp).port),
                "POST /siteloc/v1/content-location HTTP/1.1\r\nHost: \(mp)\r\nConnection: close\r\n"
                    + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nzz\r\n"
            )
            #expect(answer.status == 400, "\(String(decoding: answer.body, as: UTF8.self))")
            #expect(try await fixture.ask(mp, Self.body(Self.cases[0])).status == 200)
        }
    }

    @Test func identityAndPolicyAreServedToTheSiteAndTheSitesBelowOnly() async throws {
        let fixture = try ServicesFixture(
            appending: "  - {id: P0220001, package: CEN00002, slowBoundary: runFromDP}\n"
        )
        defer { fixture.remove() }
        do {
            func get(_ host: String, _ path: String) async throws -> RawHTTP.Answer {
                try await fixture.routed(host, "GET", path)
            }
            let list = try await get("p01-mp.corp.contoso.com", "/SMS_MP/.sms_aut?MPLIST")
            #expect(list.status == 200 && list.headers["content-type"] == "text/xml")
            #expect(
                String(decoding: list.body, as: UTF8.self)
                    == #"<MPList><MP Name="P01-MP" FQDN="p01-mp.corp.contoso.com"><Version>4.00.6487.2000</Version></MP></MPList>"#
            )
            #expect(try await get("p01-mp.corp.contoso.com", "/SMS_MP/.sms_aut?MPKEYINFORMATION").status == 404)
            let identity = try JSONDecoder().decode(
                SiteIdentity.self,
                from: try await get("p02-mp.fabrikam.com", "/siteloc/v1/site").body
            )
            #expect(identity.site == "P02" && identity.mode == "mixed")
            #expect(identity.managementPoints.map(\.host) == ["p02-mp.fabrikam.com"])

            // CEN's advertisement reaches the sites below; P02's does not reach CEN or P01.
            let policy = try await get("p02-mp.fabrikam.com", "/siteloc/v1/advertisements/CEN20002")
            #expect(policy.status == 200)
            let decoded = try JSONDecoder().decode(AdvertisementPolicy.self, from: policy.body)
            #expect(decoded.package == "CEN00002" && decoded.allowFallbackToUnprotected)
            #expect(try await get("p02-mp.fabrikam.com", "/siteloc/v1/advertisements/P0220001").status == 200)
            #expect(try await get("cen-mp.corp.contoso.com", "/siteloc/v1/advertisements/P0220001").status == 404)
            #expect(try await get("p01-mp.corp.contoso.com", "/siteloc/v1/advertisements/P0220001").status == 404)
            #expect(try await get("p01-mp.corp.contoso.com", "/siteloc/v1/advertisements/NOPE0001").status == 404)
            #expect(try await get("p01-mp.corp.contoso.com", "/siteloc/v1/advertisements/..%2F..").status == 404)
        }
    }
}
