import DirectoryServing
import Foundation
import LDAPKit
import SiteDirectory
import Testing

@testable import SiteLab

extension Integration {
    /// OpenLDAP's own ldapsearch finds what the wrapper wrote, with the filter Configuration Manager tools use.
    @Suite struct IndependentClient {
        @Test(arguments: ["10.10.0.0", "Redmond (HQ)*"])
        func ldapsearchFindsASiteAddedThroughTheWrapper(boundary: String) async throws {
            try await TestLab.withScratchContainer { container, admin in
                let site = try await TestLab.addSite(
                    "CEN",
                    boundaries: [boundary, "Other"],
                    below: container,
                    on: admin
                )
                let filter: LDAPFilter = "(&(objectClass=mSSMSSite)(mSSMSRoamingBoundaries=\(boundary)))"
                let output = try await ProcessControl.run(
                    "/usr/bin/ldapsearch",
                    [
                        "-x", "-LLL", "-o", "ldif-wrap=no", "-H", try TestLab.directory.uri, "-b", container.string,
                        filter.string, "mSSMSSiteCode",
                    ]
                )
                #expect(output.contains("dn: \(site.string)"))
                #expect(output.contains("mSSMSSiteCode: CEN"))
                let nothing = try await ProcessControl.run(
                    "/usr/bin/ldapsearch",
                    [
                        "-x", "-LLL", "-H", try TestLab.directory.uri, "-b", container.string,
                        LDAPFilter.and([
                            .equal("objectClass", "mSSMSSite"), .equal("mSSMSRoamingBoundaries", "Elsewhere"),
                        ]).string,
                    ]
                )
                #expect(nothing.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
            }
        }
    }
}
