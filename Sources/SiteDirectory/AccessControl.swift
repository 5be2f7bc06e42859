import LDAPKit

/// Who may do what in a forest's directory (docs/directory.md, "Access control"), as back-mdb rules.
///
/// - Anyone reads; anonymous clients are matched first, so their reads never evaluate the site rules.
/// - A site server's identity (a `computer` entry under `cn=Computers` with `mSSMSSiteCode`, from the auxiliary
///   class `sitelocSiteServer`) may add, change and delete below `cn=System Management` only objects whose
///   `mSSMSSiteCode` is its own: the set `this/mSSMSSiteCode & user/mSSMSSiteCode` must not be empty. It may only
///   add `mSSMSSiteCode` (`=ar`), never replace it, so it cannot turn its object into another site's.
/// - Passwords are used for binding only; the admin (the database's root DN) provisions everything.
public enum AccessControl {
    /// The `olcAccess` values, in order, without slapd's `{n}` prefixes.
    public static func rules(for layout: DirectoryLayout) -> [String] {
        let managed = layout.systemManagement.string
        let siteServers = layout.computers.string
        let sameSite = "set=\"this/mSSMSSiteCode & user/mSSMSSiteCode\""
        let replicator = layout.suffix.child("cn", "replicator").string
        return [
            // The replication identity of a replicated forest (docs/replication.md) reads everything, writes nothing.
            "to * by dn.exact=\"\(replicator)\" read by * break",
            "to attrs=userPassword by self =xw by anonymous auth by * none",
            // Settles anonymous reads (every roaming client's) before any filter or set is evaluated.
            "to dn.subtree=\"\(managed)\" by anonymous read by * break",
            "to dn.subtree=\"\(managed)\" attrs=mSSMSSiteCode by anonymous read by \(sameSite) =arscd by * read",
            "to dn.subtree=\"\(managed)\" filter=(mSSMSSiteCode=*) by anonymous read by \(sameSite) write by * read",
            "to dn.base=\"\(managed)\" attrs=children by anonymous read by dn.children=\"\(siteServers)\" write by * read",
            "to * by * read",
        ]
    }
}
