import DirectorySchema
import DirectoryServing
import Foundation
import Glibc
import LDAPKit
import SiteDirectory
import Testing

@testable import SiteLab

/// Both shipped forms of the schema load into a real slapd: the `.schema` file through slapd.conf, the LDIF file
/// through `ldapadd -Y EXTERNAL`, and the same definitions through `siteloc schema install`. (The lab loads it
/// with `slapadd -n0`.)
@Suite(.timeLimit(.minutes(2))) struct SchemaForms {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func dotSchemaFileLoadsThroughSlapdConf() async throws {
        try await BareSlapd.with(schemaFile: Self.repository.appendingPathComponent("Schema/siteloc.schema").path) {
            slapd in
            let reader = try await LDAPConnection.connect(
                LDAPConnectionConfiguration(uris: [slapd.uri]),
                logger: TestLab.logger
            )
            let subschema = try await reader.subschema()
            #expect(SchemaInstallation.missingDefinitions(in: subschema).isEmpty)
            #expect(SchemaInstallation.isExtended(subschema))
            await reader.close()
        }
    }

    @Test func ldifFileLoadsWithLdapaddAndMatchesWhatInstallWrites() async throws {
        try await BareSlapd.with(schemaFile: nil) { slapd in
            let owner = try await LDAPConnection.connect(
                LDAPConnectionConfiguration(uris: [slapd.ldapi], authentication: .external),
                logger: TestLab.logger
            )
            #expect(!SchemaInstallation.isExtended(try await owner.subschema()))
            _ = try await ProcessControl.run(
                "/usr/bin/ldapadd",
                [
                    "-Q", "-Y", "EXTERNAL", "-H", slapd.ldapi.string, "-f",
                    Self.repository.appendingPathComponent("Schema/siteloc.ldif").path,
                ]
            )
            #expect(SchemaInstallation.missingDefinitions(in: try await owner.subschema()).isEmpty)
            let outcome = try await SchemaInstallation.install(on: owner, logger: TestLab.logger)
            #expect(outcome == .alreadyCurrent)
            await owner.close()
        }
    }

    @Test func installIsIdempotentAndAddsTheIndexes() async throws {
        try await BareSlapd.with(schemaFile: nil) { slapd in
            let owner = try await LDAPConnection.connect(
                LDAPConnectionConfiguration(uris: [slapd.ldapi], authentication: .external),
                logger: TestLab.logger
            )
            #expect(try await SchemaInstallation.install(on: owner, logger: TestLab.logger) == .installed)
            #expect(try await SchemaInstallation.install(on: owner, logger: TestLab.logger) == .alreadyCurrent)
            let database = try await owner.search(
                base: try DistinguishedName(parsing: "cn=config"),
                scope: .oneLevel,
                filter: .equal("objectClass", "olcMdbConfig"),
                attributes: ["olcDbIndex"]
            ).first
            let indexed = Set(
                database?["olcDbIndex"].compactMap { $0.split(separator: " ").first.map(String.init) } ?? []
            )
            #expect(indexed.isSuperset(of: DirectorySchema.indexes.map(\.attribute)))
            #expect(SchemaInstallation.isExtended(try await owner.subschema()))
            await owner.close()
        }
    }
}

/// A slapd started from a slapd.conf (its cn=config lives in memory and is writable over ldapi), with or without
/// the siteloc `.schema` file.
struct BareSlapd {
    let uri: LDAPURI
    let ldapi: LDAPURI
    /// `ldaps://127.0.0.1:PORT` when started with TLS.
    let ldaps: LDAPURI?

    /// Starts slapd from a slapd.conf. `globalConfig` goes before the databases (TLS settings, for example);
    /// with `ldaps`, slapd also listens for TLS connections on a port of its own.
    static func with(
        schemaFile: String?,
        globalConfig: String = "",
        ldaps: Bool = false,
        _ body: (BareSlapd) async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-bare-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder + "/db", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let owner = "gidNumber=\(getgid())+uidNumber=\(getuid()),cn=peercred,cn=external,cn=auth"
        let conf = """
            include /etc/ldap/schema/core.schema
            include /etc/ldap/schema/cosine.schema
            \(schemaFile.map { "include \($0)" } ?? "")
            \(globalConfig)
            pidfile \(folder)/slapd.pid
            modulepath /usr/lib/ldap
            moduleload back_mdb
            database config
            access to * by dn.exact="\(owner)" manage by * none
            database mdb
            suffix "dc=corp,dc=contoso,dc=com"
            directory \(folder)/db
            access to * by * read
            """
        try conf.write(toFile: folder + "/slapd.conf", atomically: true, encoding: .utf8)
        let port = try ProcessControl.freeLoopbackPort()
        let slapd = BareSlapd(
            uri: try LDAPURI("ldap://127.0.0.1:\(port)"),
            ldapi: .ldapi(socketPath: folder + "/ldapi"),
            ldaps: ldaps ? try LDAPURI("ldaps://127.0.0.1:\(try ProcessControl.freeLoopbackPort())") : nil
        )
        let listeners = [slapd.uri, slapd.ldapi] + (slapd.ldaps.map { [$0] } ?? [])
        let pid = try ProcessControl.spawnDetached(
            "/usr/sbin/slapd",
            ["-d", "none", "-h", listeners.map { "\($0)/" }.joined(separator: " "), "-f", folder + "/slapd.conf"],
            logFile: folder + "/slapd.log"
        )
        do {
            // A bound on waiting, not a claim about speed: under a loaded machine (a parallel test run beside a
            // container build) this slapd once took longer than 10 s to load the schema and answer.
            let deadline = ContinuousClock.now + .seconds(30)
            while true {
                let configuration = LDAPConnectionConfiguration(uris: [slapd.ldapi], connectTimeout: .milliseconds(300))
                do {
                    let probe = try await LDAPConnection.connect(configuration, logger: TestLab.logger)
                    await probe.close()
                    break
                } catch  where !error.code.isTransportFailure {
                    break  // a refusal is an answer: the server is up
                } catch {}
                guard ContinuousClock.now < deadline, ProcessControl.isAlive(pid) else {
                    throw LabError(
                        "slapd from slapd.conf did not start:\n" + ProcessControl.tail(folder + "/slapd.log")
                    )
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await body(slapd)
        } catch {
            await ProcessControl.stop(pid)
            throw error
        }
        await ProcessControl.stop(pid)
    }
}
