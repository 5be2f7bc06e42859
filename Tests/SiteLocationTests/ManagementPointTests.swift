import HierarchyFile
import SiteLocation
import SiteModel
import Testing

/// The content location rules, table-driven over a hierarchy built for them:
///
///     CEN (native) ── P01 (mixed) ── S01 (secondary)
///          │               └──────── P11 (mixed) ── (grandchild of CEN)
///          └───────── P02 (native)
@Suite struct ManagementPointTests {
    static let yaml = """
        version: 1
        forests:
          - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            mode: native
            server: cen-ss.corp.contoso.com
            boundaries: [{subnet: 10.10.0.0/16}]
            systems:
              - {host: cen-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: cen-dp.corp.contoso.com, roles: [distributionPoint]}
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            boundaries:
              - {subnet: 10.20.0.0/16}
              - {range: 10.21.0.0-10.21.0.255, connection: slow}
              - {subnet: 10.23.0.0/16}
            systems:
              - {host: p01-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: p01-dp.corp.contoso.com, roles: [distributionPoint]}
              - {host: p01-secure.corp.contoso.com, roles: [distributionPoint], protectedBoundaries: [10.23.0.0/16]}
          - code: S01
            type: secondary
            parent: P01
            forest: corp.contoso.com
            server: s01-ss.corp.contoso.com
            boundaries: [{subnet: 10.22.0.0/16}]
            systems:
              - {host: s01-dp.corp.contoso.com, roles: [distributionPoint]}
          - code: P11
            type: primary
            parent: P01
            forest: corp.contoso.com
            server: p11-ss.corp.contoso.com
            boundaries: [{subnet: 10.24.0.0/16}]
            systems:
              - {host: p11-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: p11-dp.corp.contoso.com, roles: [distributionPoint]}
          - code: P02
            type: primary
            parent: CEN
            forest: corp.contoso.com
            mode: native
            server: p02-ss.corp.contoso.com
            boundaries: [{subnet: 10.30.0.0/16}]
            systems:
              - {host: p02-mp.corp.contoso.com, roles: [managementPoint]}
              - {host: p02-dp.corp.contoso.com, roles: [distributionPoint]}
        packages:
          - id: CEN00001
            sourceSite: CEN
            distributionPoints: [cen-dp.corp.contoso.com, p01-dp.corp.contoso.com, p01-secure.corp.contoso.com,
              s01-dp.corp.contoso.com, p11-dp.corp.contoso.com, p02-dp.corp.contoso.com]
          - id: CEN00002
            sourceSite: CEN
            distributionPoints: [cen-dp.corp.contoso.com]
          - id: CEN00003
            sourceSite: CEN
            distributionPoints: [p01-dp.corp.contoso.com, cen-dp.corp.contoso.com]
        """

    static let hierarchy: Hierarchy = {
        let result = HierarchyReader.read(yaml)
        precondition(result.errors.isEmpty, "\(result.errors)")
        return result.hierarchy
    }()

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let managementPointOf: String
        let address: String
        let package: String
        var mode: SiteMode = .mixed
        var allowHTTP = false
        var fallback = false
        let expected: [String]  // "host locality"

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "at home, fast: the home site's DP, local",
            managementPointOf: "P01",
            address: "10.20.1.1/16",
            package: "CEN00001",
            expected: ["p01-dp.corp.contoso.com local"]
        ),
        Case(
            name: "slow boundary: the same DP, remote",
            managementPointOf: "P01",
            address: "10.21.0.9/24",
            package: "CEN00001",
            expected: ["p01-dp.corp.contoso.com remote"]
        ),
        Case(
            name: "content only higher up: the walk reaches the parent, remote",
            managementPointOf: "P01",
            address: "10.20.1.1/16",
            package: "CEN00002",
            expected: []
        ),
        Case(
            name: "the walk goes up from the client's site to the first that holds the package",
            managementPointOf: "CEN",
            address: "10.24.1.1/16",
            package: "CEN00003",
            expected: ["p01-dp.corp.contoso.com remote"]
        ),
        Case(
            name: "regional into a child: its DP, local",
            managementPointOf: "CEN",
            address: "10.20.1.1/16",
            package: "CEN00001",
            expected: ["p01-dp.corp.contoso.com local"]
        ),
        Case(
            name: "regional into a grandchild: its DP, local",
            managementPointOf: "CEN",
            address: "10.24.1.1/16",
            package: "CEN00001",
            expected: ["p11-dp.corp.contoso.com local"]
        ),
        Case(
            name: "regional into a secondary",
            managementPointOf: "P01",
            address: "10.22.3.3/16",
            package: "CEN00001",
            expected: ["s01-dp.corp.contoso.com local"]
        ),
        Case(
            name: "a sibling is unknown: only the answering site's unprotected DPs",
            managementPointOf: "P01",
            address: "10.30.1.1/16",
            package: "CEN00001",
            expected: ["p01-dp.corp.contoso.com remote"]
        ),
        Case(
            name: "the parent is unknown too",
            managementPointOf: "P11",
            address: "10.10.1.1/16",
            package: "CEN00001",
            expected: ["p11-dp.corp.contoso.com remote"]
        ),
        Case(
            name: "the subnet ID comes from the client's own prefix",
            managementPointOf: "P01",
            address: "10.20.1.1/24",
            package: "CEN00001",
            expected: ["p01-dp.corp.contoso.com remote"]
        ),
        Case(
            name: "protected boundary: only the protected DP",
            managementPointOf: "P01",
            address: "10.23.1.1/16",
            package: "CEN00001",
            expected: ["p01-secure.corp.contoso.com local"]
        ),
        Case(
            name: "protected, content not there, no fallback: nothing",
            managementPointOf: "P01",
            address: "10.23.1.1/16",
            package: "CEN00003",
            expected: []
        ),
        Case(
            name: "protected, content not there, fallback: unprotected DPs",
            managementPointOf: "P01",
            address: "10.23.1.1/16",
            package: "CEN00003",
            fallback: true,
            expected: ["p01-dp.corp.contoso.com local"]
        ),
        Case(
            name: "unprotected clients never get a protected DP",
            managementPointOf: "P01",
            address: "10.20.1.1/16",
            package: "CEN00001",
            expected: ["p01-dp.corp.contoso.com local"]
        ),
        Case(
            name: "a mixed client skips native sites",
            managementPointOf: "CEN",
            address: "10.30.1.1/16",
            package: "CEN00001",
            expected: []
        ),
        Case(
            name: "a native client skips mixed sites",
            managementPointOf: "CEN",
            address: "10.20.1.1/16",
            package: "CEN00001",
            mode: .native,
            expected: ["cen-dp.corp.contoso.com remote"]
        ),
        Case(
            name: "a native client that allows HTTP uses a mixed site",
            managementPointOf: "CEN",
            address: "10.20.1.1/16",
            package: "CEN00001",
            mode: .native,
            allowHTTP: true,
            expected: ["p01-dp.corp.contoso.com local"]
        ),
        Case(
            name: "an unknown package: nothing",
            managementPointOf: "P01",
            address: "10.20.1.1/16",
            package: "CEN0FFFF",
            expected: []
        ),
    ]

    @Test(arguments: cases)
    func managementPointsAnswerFromWhatTheirSiteKnows(_ testCase: Case) async throws {
        let site = try SiteCode(testCase.managementPointOf)
        let mp = SiteDatabaseManagementPoint(site: site, host: "mp", hierarchy: Self.hierarchy)
        let answer = try await mp.locateContent(
            ContentRequest(
                package: testCase.package,
                address: try ClientAddress(testCase.address),
                clientMode: testCase.mode,
                allowHTTPRoaming: testCase.allowHTTP,
                allowFallbackToUnprotected: testCase.fallback
            )
        )
        #expect(
            answer.distributionPoints.map { "\($0.host) \($0.locality.rawValue)" } == testCase.expected,
            "\(answer.trace.joined(separator: "\n"))"
        )
    }

    @Test(arguments: [
        ("local", "downloadAndRun", "doNotRun", ContentDecision.downloadLocal),
        ("local", "runFromDP", "doNotRun", .runFromLocalDP),
        ("remote", "downloadAndRun", "doNotRun", .wait),
        ("remote", "downloadAndRun", "downloadAndRun", .downloadRemote),
        ("remote", "downloadAndRun", "runFromDP", .runFromRemoteDP),
        ("none", "downloadAndRun", "downloadAndRun", .unavailable),
    ])
    func theAdvertisementDecidesWhatTheClientDoes(
        locality: String,
        fast: String,
        slow: String,
        expected: ContentDecision
    ) throws {
        let offers =
            locality == "none"
            ? []
            : [
                DistributionPointOffer(
                    host: "dp",
                    site: "P01",
                    locality: Locality(rawValue: locality)!,
                    protected: false
                )
            ]
        let advertisement = Advertisement(
            id: "CEN20001",
            package: "CEN00001",
            fastBoundary: Advertisement.FastAction(rawValue: fast)!,
            slowBoundary: Advertisement.SlowAction(rawValue: slow)!
        )
        #expect(ContentDecision.decide(offers, advertisement: advertisement) == expected)
    }

    @Test func withoutAnAdvertisementTheDefaultsApply() {
        let remote = [DistributionPointOffer(host: "dp", site: "P01", locality: .remote, protected: false)]
        #expect(ContentDecision.decide(remote, advertisement: nil) == .wait)
    }

    @Test(arguments: [
        (["subnet CEN 65536 fast 0", "range P01 256 fast 1"], "range P01", false),
        (["adSite CEN - fast 0", "subnet P01 256 fast 1"], "subnet P01", false),
        (["adSite CEN - fast 0"], "adSite CEN", false),
        (["subnet P02 256 fast 0", "range P01 256 fast 1"], "range P01", true),
        (["subnet P01 256 fast 0", "range P01 256 slow 1"], "range P01", false),
        (["subnet P01 256 fast 0", "range P01 256 fast 1"], "subnet P01", false),
    ])
    func theMostSpecificBoundaryWins(candidates: [String], expected: String, ambiguous: Bool) throws {
        let parsed = try candidates.map { text -> BoundaryCandidate in
            let parts = text.split(separator: " ").map(String.init)
            return BoundaryCandidate(
                kind: BoundaryCandidate.Kind(rawValue: parts[0])!,
                value: parts[0],
                site: try SiteCode(parts[1]),
                span: UInt64(parts[2]),
                connection: ConnectionSpeed(rawValue: parts[3])!,
                order: Int(parts[4])!
            )
        }
        let selection = try #require(BoundaryMatching.select(parsed))
        #expect("\(selection.boundary.kind.rawValue) \(selection.boundary.site)" == expected)
        #expect(selection.ambiguous == ambiguous)
    }
}
