public import SiteModel

/// What the directory says of a site's key.
public enum DirectoryKeyAnswer: Sendable {
    case key(SitePublicKey)
    /// The directory answered: the site has published no key.
    case absent
    /// The directory could not be asked (unreachable, silent, refused, cut short).
    case unreachable
}

/// Where a site server finds other sites' public keys: the directory when both sites are in one forest, else key
/// files imported by hand.
public typealias DirectoryKeyLookup = @Sendable (_ site: SiteCode) async -> DirectoryKeyAnswer
