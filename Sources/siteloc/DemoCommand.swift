import ArgumentParser
import Foundation
import LDAPKit
import Logging
import SiteDirectory
import SiteLab
import SiteModel

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk through siteloc on a private lab directory, then stop it.",
        discussion: """
            Brings up a lab directory for corp.contoso.com, shows that it carries the Configuration Manager \
            schema extension, publishes one site object and finds it the way a client would. It grows with each \
            capability of siteloc.
            """
    )

    @Option(name: .customLong("dir"), help: "The lab folder for the demo.")
    var directory: String = ".siteloc/demo"

    @Flag(help: "Leave the lab running at the end.")
    var keep = false

    func run() async throws {
        let lab = Lab(directory: directory, logger: .siteloc)
        let forest = try ForestName("corp.contoso.com")
        let layout = DirectoryLayout(forest: forest)
        do {
            try await walkThrough(lab: lab, forest: forest, layout: layout)
        } catch let failure as CommandFailure {
            if !keep { _ = try? await lab.down() }
            throw failure
        } catch {
            if !keep { _ = try? await lab.down() }
            throw CommandFailure.unavailable("\(error)")
        }
    }

    private func walkThrough(lab: Lab, forest: ForestName, layout: DirectoryLayout) async throws {
        step(1, "Bring up a private directory for the forest \(forest)")
        let started = try await lab.up(forests: [forest])
        guard let directory = started.first(where: { $0.forest.name == forest })?.forest else { return }
        say(
            "slapd (pid \(directory.pid.map(String.init) ?? "?")) answers on \(directory.uri) and \(directory.ldapiURI)"
        )
        say("suffix \(directory.suffix); the admin password is in \(directory.passwordFile)")

        step(2, "The directory carries the Configuration Manager schema extension")
        let reader = try await lab.connect(to: forest, as: .anonymous)
        let subschema = try await reader.subschema()
        for name in SchemaInstallation.configurationManagerClasses {
            say(
                "class \(name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(subschema.objectClass(name)?.oid ?? "MISSING")"
            )
        }
        let missing = SchemaInstallation.missingDefinitions(in: subschema)
        say(missing.isEmpty ? "all siteloc definitions present" : "missing: \(missing.joined(separator: ", "))")
        let owner = try await lab.connect(to: forest, as: .localOwner)
        let outcome = try await SchemaInstallation.install(on: owner, logger: .siteloc)
        await owner.close()
        say("installing it again (like extadsch.exe) changes nothing: \(outcome)")

        step(3, "Site CEN publishes its site object (as the forest's admin)")
        let site = layout.site(try SiteCode("CEN"))
        let admin = try await lab.connect(to: forest, as: .admin)
        try? await admin.delete(site)
        try await admin.add(
            site,
            attributes: [
                LDAPAttribute("objectClass", ["top", "mSSMSSite"]),
                LDAPAttribute("cn", site.rdns[0].value),
                LDAPAttribute("mSSMSSiteCode", "CEN"),
                LDAPAttribute("mSSMSAssignmentSiteCode", "CEN"),
                LDAPAttribute("mSSMSSourceForest", forest.rawValue),
                LDAPAttribute("mSSMSRoamingBoundaries", ["10.10.0.0", "Redmond-HQ"]),
            ]
        )
        await admin.close()
        say("added \(site)")

        step(4, "A client at 10.10.0.0/16 asks the directory which site has its subnet")
        let filter: LDAPFilter = "(&(objectClass=mSSMSSite)(mSSMSRoamingBoundaries=\("10.10.0.0")))"
        say("anonymous search under \(layout.systemManagement) for \(filter)")
        let found = try await reader.search(
            base: layout.systemManagement,
            filter: filter,
            attributes: ["mSSMSSiteCode", "mSSMSRoamingBoundaries", "mSSMSSourceForest"]
        )
        for entry in found {
            say("found \(entry.dn)")
            say(
                "  site \(entry.first("mSSMSSiteCode") ?? "?"), boundaries \(entry["mSSMSRoamingBoundaries"].joined(separator: ", "))"
            )
        }
        await reader.close()
        say("the same with OpenLDAP's own client:")
        say("  ldapsearch -x -H \(directory.uri) -b '\(layout.systemManagement)' '\(filter)' mSSMSSiteCode")

        if keep {
            step(5, "The lab stays up; stop it with: siteloc lab down --dir \(self.directory)")
        } else {
            step(5, "Stop the lab")
            let stopped = try await lab.down()
            say("stopped \(stopped.map(\.name.rawValue).joined(separator: ", "))")
        }
    }

    private func step(_ number: Int, _ title: String) {
        print("\n\(number). \(title)")
    }

    private func say(_ line: String) {
        print("   " + line)
    }
}
