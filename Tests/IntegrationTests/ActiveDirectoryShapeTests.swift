import DirectoryServing
import Foundation
import HierarchyFile
import LDAPKit
import Logging
import SiteAssembly
import SiteDirectory
import SiteModel
import Testing

@testable import SiteLab

/// The directory as Active Directory's clients see it (docs/active-directory.md): AD's root DSE, sites and
/// subnets where AD keeps them, ldap3 finding everything without being told a base DN, and a client that learns
/// its AD site from the subnet objects.
@Suite(.timeLimit(.minutes(3))) struct ActiveDirectoryShape {
    static let yaml = """
        version: 1
        forests:
          - name: corp.contoso.com
            functionalLevel: windows2008r2
            serverOS: windows2008r2
            adSites:
              - name: Paris
                subnets: [10.40.0.0/16, 10.41.0.0/16, 2001:db8:40::/48]
              - name: Lyon
                subnets: [10.40.1.0/24]
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            boundaries:
              - subnet: 10.40.0.0/16
            systems:
              - {host: cen-mp.corp.contoso.com, roles: [managementPoint]}
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            boundaries:
              - adSite: Paris
            systems:
              - {host: p01-mp.corp.contoso.com, roles: [managementPoint]}
          - code: P02
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p02-ss.corp.contoso.com
            boundaries:
              - adSite: Lyon
            systems:
              - {host: p02-mp.corp.contoso.com, roles: [managementPoint]}
        """

    /// A lab of `yaml`, published; stopped whatever the body does.
    static func withLab(_ body: (Lab, String, String) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-ad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let hierarchy = folder.appendingPathComponent("hierarchy.yaml").path
        try yaml.write(toFile: hierarchy, atomically: true, encoding: .utf8)
        let lab = Lab(directory: folder.appendingPathComponent("lab").path, logger: Logger(label: "test"))
        do {
            let up = try await CommandLine.siteloc(["lab", "up", "--hierarchy", hierarchy, "--dir", lab.directory.path])
            try #require(up.status == 0, "\(up.error)")
            let published = try await CommandLine.siteloc([
                "publish", "--hierarchy", hierarchy, "--dir", lab.directory.path,
            ])
            try #require(published.status == 0, "\(published.error)")
            try await body(lab, hierarchy, folder.path)
        } catch {
            _ = try? await lab.down()
            throw error
        }
        try await lab.down()
    }

    static let corp = try! ForestName("corp.contoso.com")

    @Test func theRootDSEIsADsAndLdap3FindsTheSitesSubnetsAndSitesUnaided() async throws {
        try await Self.withLab { lab, _, _ in
            let layout = DirectoryLayout(forest: Self.corp)
            let reader = try await lab.connect(to: Self.corp, as: .anonymous)
            let root = try #require(
                try await reader.search(base: DistinguishedName([]), scope: .base, attributes: ["*"]).first
            )
            #expect(root.first("defaultNamingContext") == layout.suffix.string)
            #expect(root.first("rootDomainNamingContext") == layout.suffix.string)
            #expect(root.first("configurationNamingContext") == layout.configuration.string)
            #expect(root.first("dNSHostName") == "dc1.corp.contoso.com")
            // windows2008r2 is msDS-Behavior-Version 4, on cn=Partitions and in the root DSE alike.
            let partitions = try await reader.search(base: layout.partitions, scope: .base, attributes: ["*"])
            #expect(partitions.first?.first("msDS-Behavior-Version") == "4")
            for level in ["domainFunctionality", "forestFunctionality", "domainControllerFunctionality"] {
                #expect(root.first(level) == "4", "\(level)")
            }
            #expect(root.first("isSynchronized") == "TRUE")
            #expect(root["supportedCapabilities"].isEmpty, "nothing is claimed that slapd cannot honour")
            // serverName names an object that is there.
            let server = try DistinguishedName(parsing: try #require(root.first("serverName")))
            let object = try await reader.search(base: server, scope: .base, attributes: ["dNSHostName"])
            #expect(object.first?.first("dNSHostName") == "dc1.corp.contoso.com")
            await reader.close()

            let forest = try #require(lab.forests().first { $0.name == Self.corp })
            let found = try await Self.ldap3(port: forest.port)
            #expect(found["defaultNamingContext"] as? String == layout.suffix.string)
            #expect(found["configurationNamingContext"] as? String == layout.configuration.string)
            let subnets = Dictionary(
                uniqueKeysWithValues: ((found["subnets"] as? [[String]]) ?? []).map { ($0[0], $0[1]) }
            )
            #expect(subnets["10.40.1.0/24"] == layout.adSite("Lyon").string)
            #expect(subnets["2001:db8:40::/48"] == layout.adSite("Paris").string)
            #expect(subnets.count == 4)
            #expect((found["sites"] as? [String])?.sorted() == ["Default-First-Site-Name", "Lyon", "Paris"])
            #expect((found["configMgrSites"] as? [String])?.sorted() == ["CEN", "P01", "P02"])
        }
    }

    /// ldap3 as a script built on it starts: `get_info=ALL`, no base DN, the naming contexts from the root DSE.
    static func ldap3(port: Int) async throws -> [String: Any] {
        let script = """
            import json, sys, ldap3
            server = ldap3.Server("127.0.0.1", port=int(sys.argv[1]), get_info=ldap3.ALL)
            conn = ldap3.Connection(server, auto_bind=True)
            other = server.info.other
            first = lambda value: value[0] if isinstance(value, list) else value
            base = first(other["defaultNamingContext"])
            config = first(other["configurationNamingContext"])
            conn.search("cn=Subnets,cn=Sites," + config, "(objectClass=subnet)", attributes=["cn", "siteObject"])
            subnets = [[e.cn.value, e.siteObject.value] for e in conn.entries]
            conn.search(config, "(objectClass=site)", attributes=["cn"])
            sites = [e.cn.value for e in conn.entries]
            conn.search(base, "(objectClass=mSSMSSite)", attributes=["mSSMSSiteCode"])
            print(json.dumps({"defaultNamingContext": base, "configurationNamingContext": config,
                              "subnets": subnets, "sites": sites,
                              "configMgrSites": [e.mSSMSSiteCode.value for e in conn.entries]}))
            """
        // Debian's python3, where python3-ldap3 is installed (scripts/install-deps.sh). The tool's output has its
        // error stream too: the answer is the last line.
        let output = try await ProcessControl.run("/usr/bin/python3", ["-c", script, String(port)])
        let answer = try #require(output.split(separator: "\n").last, "ldap3 said nothing")
        return try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
    }

    /// (address, --ad-site, roamed site, boundary type, words the trace must hold)
    static let clients: [(String, String?, String?, String?, String)] = [
        // No IP boundary holds 10.40.7.0: the AD site from 10.40.0.0/16 decides.
        ("10.40.7.7/24", nil, "P01", "adSite", "AD site Paris, from subnet object cn=10.40.0.0/16,cn=Subnets"),
        ("10.41.3.3/24", nil, "P01", "adSite", "cn=10.41.0.0/16,cn=Subnets"),
        // The client's subnet ID is CEN's subnet boundary: the IP boundary wins over the AD site.
        ("10.40.0.9/16", nil, "CEN", "subnet", "AD site Paris"),
        // The longer subnet of another AD site decides.
        ("10.40.1.5/24", nil, "P02", "adSite", "AD site Lyon, from subnet object cn=10.40.1.0/24"),
        ("2001:db8:40::5/64", nil, "P01", "adSite", "cn=2001:db8:40::/48"),
        // Outside every subnet: no AD site, no boundary.
        ("10.99.0.1/24", nil, nil, nil, "no subnet object of the forest holds 10.99.0.1/24: no AD site"),
        // --ad-site still overrides what the subnets say.
        ("10.40.7.7/24", "Lyon", "P02", "adSite", "(AD site Lyon)"),
    ]

    @Test func aClientWithoutAnADSiteLearnsItFromTheSubnetObjects() async throws {
        try await Self.withLab { lab, hierarchy, _ in
            for (address, adSite, roamed, kind, words) in Self.clients {
                var arguments = [
                    "locate", "--hierarchy", hierarchy, "--dir", lab.directory.path, "--ip", address,
                    "--assigned-site", "CEN", "--forest", "corp.contoso.com", "--json",
                ]
                if let adSite { arguments += ["--ad-site", adSite] }
                let run = try await CommandLine.siteloc(arguments)
                #expect(run.status == 0, "\(address): \(run.error)")
                let json = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
                let trace = ((json["trace"] as? [String]) ?? []).joined(separator: "\n")
                #expect(json["roaming"] as? String == "global", "\(address)")
                #expect(json["roamedSite"] as? String == roamed, "\(address): \(trace)")
                #expect((json["boundary"] as? [String: Any])?["type"] as? String == kind, "\(address): \(trace)")
                #expect(trace.contains(words), "\(address): \(trace)")
                if adSite != nil { #expect(!trace.contains("from subnet object"), "\(address): \(trace)") }
            }
        }
    }

    @Test func provisioningTwiceChangesNothingAndARemovedSubnetIsRemoved() async throws {
        try await Self.withLab { lab, hierarchy, _ in
            let layout = DirectoryLayout(forest: Self.corp)
            func snapshot() async throws -> [String: String] {
                let reader = try await lab.connect(to: Self.corp, as: .anonymous)
                defer { Task { await reader.close() } }
                let entries = try await reader.search(base: layout.sites, scope: .subtree, attributes: ["entryCSN"])
                return Dictionary(
                    uniqueKeysWithValues: entries.map { ($0.dn.lowercased(), $0.first("entryCSN") ?? "") }
                )
            }
            let before = try await snapshot()
            #expect(before.keys.contains("cn=10.41.0.0/16,\(layout.subnets.string.lowercased())"))
            let again = try await CommandLine.siteloc([
                "lab", "up", "--hierarchy", hierarchy, "--dir", lab.directory.path,
            ])
            #expect(again.status == 0, "\(again.error)")
            #expect(try await snapshot() == before, "a second provisioning rewrote entries")

            let fewer = Self.yaml.replacingOccurrences(
                of: "[10.40.0.0/16, 10.41.0.0/16, 2001:db8:40::/48]",
                with: "[10.40.0.0/16, 2001:db8:40::/48]"
            )
            try fewer.write(toFile: hierarchy, atomically: true, encoding: .utf8)
            let third = try await CommandLine.siteloc([
                "lab", "up", "--hierarchy", hierarchy, "--dir", lab.directory.path,
            ])
            #expect(third.status == 0, "\(third.error)")
            var expected = before
            expected["cn=10.41.0.0/16,\(layout.subnets.string.lowercased())"] = nil
            #expect(try await snapshot() == expected)

            // Readable by anyone, written by the administrative identity only: not by a site server's.
            let site = try #require(HierarchyReader.read(Self.yaml).hierarchy.site(try SiteCode("P01")))
            let p01 = try await lab.deployment(for: HierarchyReader.read(Self.yaml).hierarchy).siteAccess(of: site)
                .connect(logger: Logger(label: "test"))
            defer { Task { await p01.close() } }
            let planted = layout.subnet(try #require(ADSubnet("10.77.0.0/16")))
            await #expect(throws: LDAPError.self) {
                try await p01.add(
                    planted,
                    attributes: [
                        LDAPAttribute("objectClass", ["top", "subnet"]), LDAPAttribute("cn", "10.77.0.0/16"),
                        LDAPAttribute("siteObject", layout.adSite("Lyon").string),
                    ]
                )
            }
            await #expect(throws: LDAPError.self) {
                try await p01.modify(
                    layout.subnet(try #require(ADSubnet("10.40.0.0/16"))),
                    [.replace("siteObject", [layout.adSite("Lyon").string])]
                )
            }
        }
    }

    @Test func forestLDIFCarriesTheSitesAndSubnets() async throws {
        try await CommandLine.withFolder { folder in
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let hierarchy = folder + "/hierarchy.yaml"
            try Self.yaml.write(toFile: hierarchy, atomically: true, encoding: .utf8)
            let run = try await CommandLine.siteloc([
                "forest", "ldif", "--hierarchy", hierarchy, "--forest", "corp.contoso.com",
            ])
            #expect(run.status == 0, "\(run.error)")
            let ldif = run.output.replacingOccurrences(of: "\n ", with: "")
            #expect(ldif.contains("dn: cn=10.40.1.0/24,cn=Subnets,cn=Sites,cn=Configuration,dc=corp,dc=contoso,dc=com"))
            #expect(ldif.contains("siteObject: cn=Lyon,cn=Sites,cn=Configuration,dc=corp,dc=contoso,dc=com"))
            // The containers and Default-First-Site-Name are every directory's base tree: the LDIF adds only what
            // the file lists, sites before their subnets.
            #expect(!ldif.contains("objectClass: subnetContainer") && !ldif.contains("dn: cn=Default-First-Site-Name"))
            let site = try #require(ldif.range(of: "dn: cn=Lyon,cn=Sites,cn=Configuration"))
            let subnet = try #require(ldif.range(of: "dn: cn=10.40.1.0/24"))
            #expect(site.lowerBound < subnet.lowerBound)
        }
    }
}
