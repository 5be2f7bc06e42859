import Testing

@testable import LDAPKit

@Suite struct DistinguishedNameTests {
    @Test(arguments: [
        ("a,b", "a\\,b"), ("a+b", "a\\+b"), ("a=b", "a\\=b"), ("a\"b", "a\\\"b"), ("a<b>", "a\\<b\\>"),
        ("a;b", "a\\;b"), ("a\\b", "a\\\\b"), ("#a", "\\#a"), ("a#", "a#"), (" a", "\\ a"), ("a ", "a\\ "),
        ("a b", "a b"), ("a\u{0}b", "a\\00b"), ("a*(b)", "a*(b)"), ("Zürich", "Zürich"),
    ])
    func escapesWhatRFC4514Requires(value: String, expected: String) {
        #expect(DistinguishedName.escape(value) == expected)
    }

    static let hostileValues = [
        "*", "(", ")", "\\", "\u{0}", ",", "+", "=", "\"", "<", ">", ";", "#leading", " leading", "trailing ",
        "all *()\\,+=\"<>;# of them ", "Zürich 東京", "SMS-MP-CEN-CEN-MP.CORP.CONTOSO.COM",
    ]

    @Test(arguments: hostileValues)
    func everyValueSurvivesARoundTrip(value: String) throws {
        let dn = DistinguishedName.root.child("dc", "com").child("cn", value)
        let parsed = try DistinguishedName(parsing: dn.string)
        #expect(parsed == dn)
        #expect(parsed.rdns.count == 2)
        #expect(parsed.rdns[0].value == value)
    }

    @Test func parsesWhatServersReturn() throws {
        let dn = try DistinguishedName(parsing: "cn=System Management,cn=System,dc=corp,dc=contoso,dc=com")
        #expect(dn.rdns.map(\.value) == ["System Management", "System", "corp", "contoso", "com"])
        #expect(dn.parent?.string == "cn=System,dc=corp,dc=contoso,dc=com")
        let hex = try DistinguishedName(parsing: "cn=a\\2Cb\\20,dc=x")
        #expect(hex.rdns[0].value == "a,b ")
        let multi = try DistinguishedName(parsing: "cn=x+uid=y,dc=z")
        #expect(multi.rdns[0].attributes.count == 2)
    }

    @Test(arguments: ["cn", "cn=a,=b", "cn=a\\", "c n=x", "cn=a\"b"])
    func rejectsMalformedNames(text: String) {
        #expect(throws: DistinguishedNameError.self) { try DistinguishedName(parsing: text) }
    }

    @Test func comparesCaseInsensitively() throws {
        let a = try DistinguishedName(parsing: "CN=System,DC=Corp,DC=com")
        let b = try DistinguishedName(parsing: "cn=system,dc=corp,dc=COM")
        #expect(a.caseInsensitiveKey == b.caseInsensitiveKey)
        #expect(b.child("cn", "x").isWithin(a))
        #expect(!a.isWithin(a.child("cn", "x")))
    }
}
