import Foundation
import SiteClient
import SiteLocation
import SiteServer
import Testing

/// What a hostile management point or distribution point cannot make the client do (hostile review findings 4 and
/// 5): hold it past its timeout by trickling an answer, make it write a size it announces out of thin air, or keep
/// it on a DP that sends a byte now and then.
@Suite(.timeLimit(.minutes(3))) struct ClientBounds {
    static func fixture() throws -> ServicesFixture { try ServicesFixture.withSecondDistributionPointAtCEN() }

    static let content = Data((0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ 3) })

    @Test func aManagementPointTricklingItsAnswerIsGivenUpAfterTheTimeout() async throws {
        let fixture = try Self.fixture()
        defer { fixture.remove() }
        for site in ["CEN", "S01", "P02"] { try fixture.place("CEN00002", at: site, bytes: Self.content) }
        try await fixture.serving {
            // CEN's management point's real answer, replayed one byte every 100 ms: a minute for the whole.
            let real = try await fixture.ask(
                "cen-mp.corp.contoso.com",
                #"{"package":"CEN00002","address":"10.10.5.5/16","clientMode":"mixed"}"#
            )
            #expect(real.status == 200)
            let answer =
                Data(
                    ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(real.body.count)\r\n"
                        + "Connection: close\r\n\r\n").utf8
                ) + real.body
            let trickling = try ScriptedServer(pace: .milliseconds(100)) { _ in answer }
            defer { trickling.stop() }
            let mp = try fixture.url("cen-mp.corp.contoso.com")
            fixture.urls.set("cen-mp.corp.contoso.com", try #require(URL(string: "http://127.0.0.1:\(trickling.port)")))
            defer { fixture.urls.set("cen-mp.corp.contoso.com", mp) }
            let client = try ContentClientTests.client(
                fixture,
                state: fixture.root.appendingPathComponent("mp"),
                roamedTo: "CEN",
                timeout: .seconds(2)
            )
            let started = ContinuousClock.now
            let result = try? await client.get(
                try ContentClientTests.profile("10.10.5.5/16"),
                package: "CEN00002",
                advertisement: "CEN20002"
            )
            let took = ContinuousClock.now - started
            // Given up after about the timeout (it then asks the assigned site's default MP, which answers).
            #expect(took < .seconds(12), "the client waited \(took) for a trickling management point")
            let trace = result?.content.location.trace ?? []
            #expect(trace.contains { $0.contains("cen-mp.corp.contoso.com did not answer") }, "\(trace)")
            #expect(trace.contains { $0.contains("asking the default management point") }, "\(trace)")
        }
    }

    @Test func aDistributionPointAnnouncingAPetabyteOrTricklingIsLeftForTheNext() async throws {
        let fixture = try Self.fixture()
        defer { fixture.remove() }
        var placement: PackagePlacement?
        for site in ["CEN", "S01", "P02"] {
            placement = try fixture.place("CEN00002", at: site, bytes: Self.content)
        }
        let version = try #require(placement?.version)
        let head =
            "HTTP/1.1 200 OK\r\nETag: \"\(version)\"\r\nAccept-Ranges: bytes\r\nConnection: close\r\n"
        try await fixture.serving {
            let huge = try ScriptedServer { _ in
                Data((head + "Content-Length: 1000000000000000\r\n\r\n").utf8) + Self.content.prefix(65_536)
            }
            defer { huge.stop() }
            let trickle = try ScriptedServer(pace: .milliseconds(200)) { _ in
                Data((head + "Content-Length: \(Self.content.count)\r\n\r\n").utf8) + Self.content.prefix(200)
            }
            defer { trickle.stop() }
            for (name, server) in [("a petabyte", huge), ("a byte every 200 ms", trickle)] {
                let state = fixture.root.appendingPathComponent("dp-\(server.port)")
                // The first DP offered leads to the hostile server; the second is genuine.
                let probe = try ContentClientTests.client(fixture, state: state, roamedTo: "CEN", timeout: .seconds(2))
                let plan = try await probe.get(
                    try ContentClientTests.profile("10.10.5.5/16"),
                    package: "CEN00002",
                    advertisement: "CEN20002"
                )
                let offers = plan.content.distributionPoints.map(\.host)
                try #require(offers.count >= 2)
                let genuine = try fixture.url(offers[0])
                fixture.urls.set(offers[0], try #require(URL(string: "http://127.0.0.1:\(server.port)")))
                defer { fixture.urls.set(offers[0], genuine) }
                let fresh = fixture.root.appendingPathComponent("fresh-\(server.port)")
                let client = try ContentClientTests.client(fixture, state: fresh, roamedTo: "CEN", timeout: .seconds(2))
                let started = ContinuousClock.now
                let result = try await client.get(
                    try ContentClientTests.profile("10.10.5.5/16"),
                    package: "CEN00002",
                    advertisement: "CEN20002"
                )
                let took = ContinuousClock.now - started
                #expect(result.status == .complete, "\(name): \(result.content.location.trace)")
                #expect(took < .seconds(15), "\(name): the client stayed \(took)")
                let sources = result.download?.sources ?? []
                #expect(sources.first?.host == offers[0] && sources.first?.result != "ok", "\(name): \(sources)")
                #expect(sources.last?.host == offers[1] && sources.last?.result == "ok", "\(name): \(sources)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: try #require(result.path))) == Self.content)
            }
        }
    }
}
