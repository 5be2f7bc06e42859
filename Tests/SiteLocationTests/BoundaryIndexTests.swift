import SiteLocation
import SiteModel
import Testing

/// The boundary index finds exactly the boundaries the plain pass over every boundary finds, on hierarchies
/// crowded into a small address space so that subnets, overlapping ranges, IPv6 prefixes and AD site names collide.
@Suite struct BoundaryIndexTests {
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func theIndexFindsWhatThePassOverEveryBoundaryFinds(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let sites = try (0..<40).map { number in
            try Site(
                code: SiteCode(number < 10 ? "S0\(number)" : "S\(number)"),
                type: .primary,
                forest: ForestName("corp.contoso.com"),
                server: "s\(number).corp.contoso.com",
                boundaries: (0..<Int(random.next() % 12)).map { _ in Self.boundary(&random) }
            )
        }
        let index = BoundaryIndex(sites)
        var matched = 0
        for _ in 0..<2_000 {
            let address = Self.address(&random)
            let adSite = random.next() % 3 == 0 ? Self.adSiteNames[Int(random.next() % 4)].uppercased() : nil
            let expected = BoundaryMatching.candidates(for: address, adSite: adSite, among: sites)
            let found = index.candidates(for: address, adSite: adSite)
            #expect(found == expected, "\(address) \(adSite ?? "-")")
            #expect(BoundaryMatching.select(found) == BoundaryMatching.select(expected))
            matched += expected.isEmpty ? 0 : 1
        }
        // The generated addresses must hit boundaries, or the comparison would prove nothing.
        #expect(matched > 200)
    }

    static let adSiteNames = ["Paris", "London", "Seattle", "Tokyo"]

    static func boundary(_ random: inout SplitMix64) -> Boundary {
        let connection: ConnectionSpeed = random.next() % 4 == 0 ? .slow : .fast
        switch random.next() % 4 {
        case 0:
            let length = 20 + Int(random.next() % 9)
            let address = IPv4Address(UInt32(10 << 24) | UInt32(random.next() % 4096) << 4)
            return Boundary(
                .subnet(IPv4Network(address: address.masked(to: length), prefixLength: length)),
                connection: connection
            )
        case 1:
            let low = UInt32(10 << 24) + UInt32(random.next() % 65_536)
            let high = low + UInt32(random.next() % 4_096)
            return Boundary(
                .range(IPv4Range(low: IPv4Address(low), high: IPv4Address(high))!),
                connection: connection
            )
        case 2:
            let length = [48, 56, 64][Int(random.next() % 3)]
            let groups: [UInt16] = [
                0x2001, 0xdb8, UInt16(random.next() % 4), UInt16(random.next() % 4) << 8, 0, 0, 0, 0,
            ]
            let network = IPv6Network(address: IPv6Address(groups: groups).masked(to: length), prefixLength: length)
            return Boundary(.ipv6Prefix(network), connection: connection)
        default:
            return Boundary(.adSite(adSiteNames[Int(random.next() % 4)]), connection: connection)
        }
    }

    static func address(_ random: inout SplitMix64) -> ClientAddress {
        if random.next() % 4 == 0 {
            let groups: [UInt16] = [
                0x2001, 0xdb8, UInt16(random.next() % 4), UInt16(random.next() % 4) << 8 | UInt16(random.next() % 256),
                1, 2, 3, 4,
            ]
            return .v6(IPv6Address(groups: groups), prefixLength: [48, 56, 64][Int(random.next() % 3)])
        }
        let address = IPv4Address(UInt32(10 << 24) + UInt32(random.next() % 70_000))
        return .v4(address, prefixLength: 20 + Int(random.next() % 9))
    }
}

/// A small seeded generator: the same cases on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
