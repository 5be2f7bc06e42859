import Testing

@testable import LDAPKit

@Suite struct ErrorTests {
    @Test func resultCodesDescribeThemselvesWithLibldapsText() {
        #expect(LDAPResultCode.noSuchObject.description == "No such object (32)")
        #expect(LDAPResultCode.invalidCredentials.description == "Invalid credentials (49)")
        #expect(LDAPResultCode.serverDown.description == "Can't contact LDAP server (-1)")
        #expect(LDAPResultCode(rawValue: 4242).rawValue == 4242)
    }

    @Test func callersCanCatchByCode() {
        let error: any Error = LDAPError(code: .noSuchObject, operation: .search)
        var caught = false
        do { throw error } catch LDAPResultCode.noSuchObject { caught = true } catch {}
        #expect(caught)
        #expect(!(LDAPResultCode.busy ~= error))
    }

    @Test func transportFailuresAreTheOnesAnotherReplicaCouldFix() {
        #expect(LDAPResultCode.serverDown.isTransportFailure)
        #expect(LDAPResultCode.timeout.isTransportFailure)
        #expect(!LDAPResultCode.invalidCredentials.isTransportFailure)
        #expect(!LDAPResultCode.noSuchObject.isTransportFailure)
    }

    @Test func descriptionNamesOperationEntryServerAndDiagnosticButNotTheFilter() throws {
        let error = LDAPError(
            code: .noSuchObject,
            operation: .search,
            dn: "cn=x,dc=corp,dc=com",
            diagnosticMessage: "no such base",
            matchedDN: "dc=corp,dc=com",
            server: try LDAPURI("ldap://127.0.0.1:3890"),
            filter: "(cn=secret-user-data)"
        )
        #expect(
            error.description
                == "search of 'cn=x,dc=corp,dc=com' on ldap://127.0.0.1:3890 failed: No such object (32); "
                + "server said: no such base; deepest existing entry: 'dc=corp,dc=com'"
        )
        #expect(!error.description.contains("secret-user-data"))
        #expect(error.debugDescription.contains("(cn=secret-user-data)"))
    }

    @Test func secretsNeverPrint() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "<secret>")
        #expect(String(reflecting: secret) == "<secret>")
        let authentication = LDAPConnectionConfiguration.Authentication.simple(
            dn: .root.child("cn", "admin"),
            password: secret
        )
        #expect(!"\(authentication)".contains("hunter2"))
    }

    @Test(arguments: [
        "ldap://127.0.0.1:3890", "ldaps://dc1.corp.contoso.com", "ldap://[::1]:389/", "ldapi://%2Ftmp%2Fs",
    ])
    func acceptsDirectoryURIs(text: String) throws {
        _ = try LDAPURI(text)
    }

    @Test(arguments: [
        "127.0.0.1:389", "http://x", "ldap://", "ldap://h:0", "ldap://h:99999", "ldap://h/dc=x", "ldapi://relative",
    ])
    func rejectsOtherURIsNamingTheExpectedForm(text: String) {
        #expect {
            try LDAPURI(text)
        } throws: { error in
            "\(error)".contains("expected ldap://HOST[:PORT]")
        }
    }

    @Test func socketPathsArePercentEncoded() {
        #expect(LDAPURI.ldapi(socketPath: "/tmp/lab dir/ldapi").string == "ldapi://%2Ftmp%2Flab%20dir%2Fldapi")
        #expect(LDAPURI.ldapi(socketPath: "/tmp/lab dir/ldapi").host == "/tmp/lab dir/ldapi")
    }

    @Test func readsSubschemaDefinitions() {
        let element = Subschema.parse(
            "( 1.2.840.113556.1.6.29.2.2.2 NAME 'mSSMSSite' DESC 'MS-SMS-Site: a (published) site' SUP top STRUCTURAL )"
        )
        #expect(element?.oid == "1.2.840.113556.1.6.29.2.2.2")
        #expect(element?.names == ["mSSMSSite"])
        let twoNames = Subschema.parse("( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )")
        #expect(twoNames?.names == ["cn", "commonName"])
    }
}
