import DirectoryServing
import Foundation
import LDAPKit
import SiteDirectory
import SiteLab
import Testing

extension Integration {
    @Suite struct WrapperOperations {
        @Test func addSearchModifyCompareDelete() async throws {
            try await TestLab.withScratchContainer { container, admin in
                let site = try await TestLab.addSite(
                    "P01",
                    boundaries: ["10.1.0.0", "Paris"],
                    below: container,
                    on: admin
                )
                let found = try await admin.search(
                    base: container,
                    scope: .oneLevel,
                    filter: .equal("mSSMSSiteCode", "p01"),
                    attributes: ["mSSMSSiteCode", "mSSMSRoamingBoundaries"]
                )
                #expect(found.count == 1)
                #expect(found.first?.first("mSSMSSiteCode") == "P01")
                #expect(Set(found.first?["mSSMSRoamingBoundaries"] ?? []) == ["10.1.0.0", "Paris"])
                #expect(found.first?.attribute("objectClass") == nil, "only the requested attributes come back")

                let base = try await admin.search(base: site, scope: .base)
                #expect(try base.first?.distinguishedName == site)
                let none = try await admin.search(base: container, scope: .base, filter: .equal("mSSMSSiteCode", "P01"))
                #expect(none.isEmpty, "base scope looks at the container only")

                try await admin.modify(
                    site,
                    [
                        .add("mSSMSRoamingBoundaries", ["10.2.0.0"]), .delete("mSSMSRoamingBoundaries", ["Paris"]),
                        .replace("mSSMSAssignmentSiteCode", ["P01"]), .add("mSSMSSourceForest", ["corp.contoso.com"]),
                    ]
                )
                try await admin.modify(site, [.delete("mSSMSSourceForest")])
                let changed = try await admin.search(base: site, scope: .base).first
                #expect(Set(changed?["mSSMSRoamingBoundaries"] ?? []) == ["10.1.0.0", "10.2.0.0"])
                #expect(changed?.first("mSSMSAssignmentSiteCode") == "P01")
                #expect(changed?.attribute("mSSMSSourceForest") == nil)

                #expect(try await admin.compare(site, attribute: "mSSMSRoamingBoundaries", value: "10.2.0.0"))
                #expect(try await !admin.compare(site, attribute: "mSSMSRoamingBoundaries", value: "Paris"))

                try await admin.delete(site)
                await #expect(throws: LDAPError.self) { try await admin.search(base: site, scope: .base) }
            }
        }

        @Test func serverErrorsCarryCodeOperationDiagnosticAndMatchedDN() async throws {
            try await TestLab.withScratchContainer { container, admin in
                let missing = container.child("cn", "nowhere").child("cn", "deeper")
                do {
                    _ = try await admin.search(base: missing, scope: .base)
                    Issue.record("a search below a missing entry must fail")
                } catch let error as LDAPError {
                    #expect(error.code == .noSuchObject)
                    #expect(error.operation == .search)
                    #expect(error.dn == missing.string)
                    #expect(try error.matchedDN.map { try DistinguishedName(parsing: $0) } == container)
                }
                let entry = container.child("cn", "twice")
                let attributes = [LDAPAttribute("objectClass", "container"), LDAPAttribute("cn", "twice")]
                try await admin.add(entry, attributes: attributes)
                do {
                    try await admin.add(entry, attributes: attributes)
                    Issue.record("adding an entry twice must fail")
                } catch let error as LDAPError {
                    #expect(error.code == .entryAlreadyExists)
                    #expect(error.operation == .add)
                }
                do {
                    try await admin.add(
                        container.child("cn", "bad"),
                        attributes: [LDAPAttribute("objectClass", "mSSMSSite"), LDAPAttribute("noSuchAttribute", "x")]
                    )
                    Issue.record("an undefined attribute must be refused")
                } catch let error as LDAPError {
                    #expect(error.code == .undefinedAttributeType)
                    #expect(error.diagnosticMessage?.contains("noSuchAttribute") == true)
                }
            }
        }

        @Test func anonymousClientsReadButCannotWrite() async throws {
            let anonymous = try await TestLab.connect(as: .anonymous)
            let base = try await anonymous.search(base: TestLab.layout.systemManagement, scope: .base)
            #expect(base.count == 1)
            do {
                try await anonymous.add(
                    TestLab.layout.systemManagement.child("cn", "SMS-Site-EVL"),
                    attributes: [LDAPAttribute("objectClass", "mSSMSSite"), LDAPAttribute("cn", "SMS-Site-EVL")]
                )
                Issue.record("an anonymous add must be refused")
            } catch {
                #expect(error.code == .strongAuthRequired || error.code == .insufficientAccessRights)
            }
            await anonymous.close()
        }

        @Test func wrongPasswordIsRefusedWithoutEchoingIt() async throws {
            let directory = try TestLab.directory
            let configuration = LDAPConnectionConfiguration(
                uris: [try LDAPURI(directory.uri)],
                authentication: .simple(
                    dn: try DistinguishedName(parsing: directory.adminDN),
                    password: Secret("wrong-pw-123")
                )
            )
            do {
                _ = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
                Issue.record("a wrong password must be refused")
            } catch {
                #expect(error.code == .invalidCredentials)
                #expect(error.operation == .bind)
                #expect(!"\(error)".contains("wrong-pw-123"))
                #expect(!String(reflecting: error).contains("wrong-pw-123"))
            }
        }

        @Test func saslExternalOverLdapiActsAsTheLabOwner() async throws {
            let owner = try await TestLab.connect(as: .localOwner)
            let databases = try await owner.search(
                base: try DistinguishedName(parsing: "cn=config"),
                scope: .oneLevel,
                filter: .equal("objectClass", "olcMdbConfig"),
                attributes: ["olcSuffix"]
            )
            #expect(databases.first?.first("olcSuffix") == TestLab.layout.suffix.string)
            await owner.close()
            let anonymous = try await TestLab.connect(as: .anonymous)
            let hidden = try? await anonymous.search(
                base: try DistinguishedName(parsing: "cn=config"),
                scope: .oneLevel,
                filter: .equal("objectClass", "olcMdbConfig")
            )
            #expect(hidden?.isEmpty ?? true, "cn=config is not readable anonymously")
            await anonymous.close()
        }

        @Test func hostileValuesAreStoredAndFoundExactly() async throws {
            try await TestLab.withScratchContainer { container, admin in
                let values = [
                    "*", "(x)", "a\\b", ",+=\"<>;", "#leading", " leading", "trailing ", "Zürich 東京", "nul\u{0}byte",
                ]
                for (index, value) in values.enumerated() {
                    try await admin.add(
                        container.child("cn", value),
                        attributes: [
                            LDAPAttribute("objectClass", ["top", "mSSMSSite"]), LDAPAttribute("cn", value),
                            LDAPAttribute("mSSMSSiteCode", "H\(index)"),
                        ]
                    )
                }
                for (index, value) in values.enumerated() {
                    let found = try await admin.search(base: container, scope: .oneLevel, filter: .equal("cn", value))
                    #expect(found.count == 1, "exactly one entry for \(value.debugDescription)")
                    #expect(found.first?.first("mSSMSSiteCode") == "H\(index)")
                    #expect(try found.first?.distinguishedName.rdns.first?.value == value)
                }
                let all = try await admin.search(base: container, scope: .oneLevel)
                #expect(all.count == values.count)
            }
        }
    }
}

extension Integration.WrapperOperations {
    @Test func aSessionRunsAWholeConversationOnTheConnectionsThread() async throws {
        let connection = try await TestLab.connect(as: .anonymous)
        let suffix = TestLab.layout.suffix
        async let around = connection.search(base: suffix, scope: .base)
        let (names, extended) = try await connection.withSession { session in
            let children = try session.search(base: suffix, scope: .oneLevel, attributes: ["cn"])
            let schema = try session.subschema(attributeTypes: false)
            return (Set(children.compactMap { $0.first("cn") }), schema.objectClass("mSSMSSite") != nil)
        }
        #expect(names.isSuperset(of: ["Configuration", "Computers", "System"]))
        #expect(extended)
        #expect(try await around.count == 1)
        await #expect(throws: LDAPError.self) {
            try await connection.withSession { session in
                try session.search(base: suffix.child("cn", "missing"), scope: .base)
            }
        }
        await connection.close()
        await #expect(throws: LDAPError.self) {
            try await connection.withSession { session in try session.search(base: suffix, scope: .base) }
        }
    }
}

extension Integration.WrapperOperations {
    @Test func aOneShotSessionConnectsConversesAndReportsWhyItCouldNotConnect() async throws {
        let live = try TestLab.directory.access(as: .anonymous).configuration()
        let suffix = TestLab.layout.suffix
        let (server, extended, missing) = try await LDAPConnection.withSession(live, logger: TestLab.logger) {
            session in
            (
                session.server,
                try session.definesObjectClasses(SchemaInstallation.configurationManagerClasses),
                try session.definesObjectClasses(["mSSMSSite", "noSuchClass"])
            )
        }
        #expect(server == live.uris[0])
        #expect(extended)
        #expect(!missing)

        await #expect(throws: LDAPError.self) {
            try await LDAPConnection.withSession(live, logger: TestLab.logger) { session in
                try session.search(base: suffix.child("cn", "missing"), scope: .base)
            }
        }

        let port = try closedPort()
        var dead = live
        dead.uris = [try LDAPURI("ldap://127.0.0.1:\(port)")]
        do {
            _ = try await LDAPConnection.withSession(dead, logger: TestLab.logger) { _ in true }
            Issue.record("nothing listens on port \(port)")
        } catch let error as LDAPError {
            #expect(error.code == .serverDown)
            #expect(error.server?.port == port)
        }

        var failover = live
        failover.uris = dead.uris + live.uris
        let reached = try await LDAPConnection.withSession(failover, logger: TestLab.logger) { $0.server }
        #expect(reached == live.uris[0])
    }
}
