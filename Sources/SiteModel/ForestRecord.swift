/// What a forest's own directory says about the forest, in Active Directory's terms: the forest functional level
/// (`msDS-Behavior-Version`), the `trustedDomain` objects, and the `operatingSystem` of its site servers' computer
/// entries. Read by the directory mapping, judged by the trust check.
public struct ForestRecord: Sendable, Hashable {
    public struct TrustedDomain: Sendable, Hashable {
        public var partner: String
        /// 1 inbound, 2 outbound, 3 both.
        public var direction: Int
        /// 2 for an Active Directory (uplevel) domain.
        public var type: Int
        /// Flags: 0x1 non-transitive, 0x8 forest transitive.
        public var attributes: Int

        public init(partner: String, direction: Int, type: Int, attributes: Int) {
            self.partner = partner
            self.direction = direction
            self.type = type
            self.attributes = attributes
        }
    }

    public var forest: ForestName
    public var behaviorVersion: Int?
    public var trustedDomains: [TrustedDomain]
    /// `operatingSystem` of each site server of the forest found in the directory, by host.
    public var siteServerSystems: [String: String]

    public init(
        forest: ForestName,
        behaviorVersion: Int?,
        trustedDomains: [TrustedDomain],
        siteServerSystems: [String: String]
    ) {
        self.forest = forest
        self.behaviorVersion = behaviorVersion
        self.trustedDomains = trustedDomains
        self.siteServerSystems = siteServerSystems
    }
}
