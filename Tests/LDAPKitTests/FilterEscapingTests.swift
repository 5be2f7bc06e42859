import Testing

@testable import LDAPKit

@Suite struct FilterEscapingTests {
    @Test(arguments: [
        ("*", "\\2a"), ("(", "\\28"), (")", "\\29"), ("\\", "\\5c"), ("\u{0}", "\\00"),
        (",", ","), ("+", "+"), ("=", "="), ("\"", "\""), ("<", "<"), (">", ">"), (";", ";"), ("#", "#"), (" ", " "),
        ("Zürich-HQ", "Zürich-HQ"), ("東京", "東京"),
    ])
    func escapesWhatRFC4515Requires(value: String, expected: String) {
        #expect(LDAPFilter.escape(value) == expected)
    }

    @Test func interpolatedValuesCannotChangeTheFilter() {
        let hostile = "*)(objectClass=*"
        let filter: LDAPFilter = "(&(objectClass=mSSMSSite)(mSSMSRoamingBoundaries=\(hostile)))"
        #expect(filter.string == "(&(objectClass=mSSMSSite)(mSSMSRoamingBoundaries=\\2a\\29\\28objectClass=\\2a))")
    }

    @Test func builtFiltersEscapeValuesButNotStructure() {
        let filter = LDAPFilter.and([
            .equal("objectClass", "mSSMSSite"),
            .or([.equal("cn", "a*b"), .not(.present("mSSMSDefaultMP"))]),
            .substrings("cn", initial: "SMS-MP-(", final: ")"),
        ])
        #expect(filter.string == "(&(objectClass=mSSMSSite)(|(cn=a\\2ab)(!(mSSMSDefaultMP=*)))(cn=SMS-MP-\\28*\\29))")
    }

    @Test func binaryValuesThatAreNotUTF8AreHexEscaped() {
        #expect(LDAPFilter.escape(bytes: [0x41, 0xFF, 0x00, 0x2A]) == "A\\ff\\00\\2a")
    }

    @Test func integersInterpolateAsDecimal() {
        let low: UInt32 = 169_083_905
        let filter: LDAPFilter = "(mSSMSRangedIPLow<=\(low))"
        #expect(filter.string == "(mSSMSRangedIPLow<=169083905)")
    }

    @Test(arguments: ["cn", "mSSMSSiteCode", "msDS-Behavior-Version", "2.5.4.3", "userCertificate;binary"])
    func acceptsAttributeDescriptions(name: String) {
        #expect(AttributeDescription.isValid(name))
    }

    @Test(arguments: ["", "cn=x", "c n", "(cn", "1.", "-cn", "cn;"])
    func rejectsWhatIsNotAnAttributeDescription(name: String) {
        #expect(!AttributeDescription.isValid(name))
    }
}
