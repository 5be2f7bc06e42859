import SiteModel
import Testing

/// One rule for package and advertisement ids, wherever one comes from: the command line (either case), a job, a
/// management point request or a distribution point URL (exactly), the hierarchy file (with its source site).
@Suite struct ObjectIDTests {
    @Test(arguments: ["CEN00001", "P0120001", "ABCFFFFF", "0000000A"])
    func idsOfTheFormAreTaken(_ text: String) throws {
        #expect(try PackageID(exactly: text).rawValue == text)
        #expect(try AdvertisementID(exactly: text).rawValue == text)
        #expect(ObjectIDRule.isValid(exactly: text))
    }

    @Test func aTypedIdIsUpperCasedButAReceivedOneMustBeExact() throws {
        #expect(try PackageID("cen0000a").rawValue == "CEN0000A")
        #expect(try PackageID("cen0000a").siteCodePrefix == "CEN")
        #expect(throws: ObjectIDError.self) { try PackageID(exactly: "cen0000a") }
    }

    @Test(arguments: [
        "", "CEN0001", "CEN000001", "CEN0000G", "CEN0000g", "CE-00001", "CEN 0001", "../00001", "CEN00001\n",
        "CEN0000\u{0130}", "ﬃEN00001", "CEN\u{0}0001",
    ])
    func anythingElseIsRefusedWithTheExpectedForm(_ text: String) {
        #expect(!ObjectIDRule.isValid(exactly: text))
        #expect(throws: ObjectIDError.self) { try PackageID(text) }
        do {
            _ = try AdvertisementID(text)
        } catch {
            #expect(error.description.contains(ObjectIDRule.expected))
            #expect(!error.description.contains("\n"), "control characters are escaped: \(error)")
        }
    }

    @Test func onlyASCIIIsUpperCased() {
        // "ß" upper-cases to "SS" outside ASCII: eight characters then, but not what was typed.
        #expect(throws: ObjectIDError.self) { try PackageID("ßEN00001") }
    }
}
