import Foundation

/// The OpenLDAP server tools the lab runs.
package struct SlapdTools {
    package let slapd: String
    package let slapadd: String
    package let slappasswd: String
    /// From ldap-utils.
    package let ldapmodify: String

    /// Looks in `SITELOC_OPENLDAP_SBIN` when it is set (a folder, for OpenLDAP installed elsewhere), otherwise in
    /// the usual places.
    package static func locate() throws(LabError) -> SlapdTools {
        let override = ProcessInfo.processInfo.environment["SITELOC_OPENLDAP_SBIN"].flatMap { $0.isEmpty ? nil : $0 }
        let folders = override.map { [$0] } ?? ["/usr/sbin", "/usr/local/sbin", "/opt/symas/sbin", "/usr/libexec"]
        func find(_ name: String) -> String? {
            folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let slapd = find("slapd"), let slapadd = find("slapadd"), let slappasswd = find("slappasswd") else {
            throw LabError(
                "slapd is not installed (looked for slapd, slapadd and slappasswd in \(folders.joined(separator: ", "))). "
                    + "Install it with: sudo apt-get install -y slapd ldap-utils (or run `make deps`), "
                    + "or set SITELOC_OPENLDAP_SBIN to the folder that holds them"
            )
        }
        let ldapmodify =
            ["/usr/bin/ldapmodify", "/usr/local/bin/ldapmodify", "/opt/symas/bin/ldapmodify"]
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/ldapmodify"
        return SlapdTools(slapd: slapd, slapadd: slapadd, slappasswd: slappasswd, ldapmodify: ldapmodify)
    }
}
