import DirectorySchema
import LDAPKit
package import SiteDirectory

/// The cn=config of one lab directory, written as the LDIF that `slapadd -n0` turns into `slapd.d`.
package struct SlapdConfiguration {
    package let layout: DirectoryLayout
    package let folder: String
    package let passwordHash: String
    /// This provider's number among its forest's (1 when there is one): changes made here carry it.
    package let serverID: Int
    /// The identity SASL EXTERNAL gives to this user's processes over ldapi (slapd runs as the same user).
    package let localOwner: String

    package init(layout: DirectoryLayout, folder: String, passwordHash: String, serverID: Int, uid: UInt32, gid: UInt32)
    {
        self.layout = layout
        self.folder = folder
        self.passwordHash = passwordHash
        self.serverID = serverID
        localOwner = "gidNumber=\(gid)+uidNumber=\(uid),cn=peercred,cn=external,cn=auth"
    }

    package var ldif: String {
        let indexLines = DirectorySchema.indexValues.map { "olcDbIndex: \($0)" }.joined(separator: "\n")
        let accessLines = AccessControl.rules(for: layout).enumerated().map { "olcAccess: {\($0.offset)}\($0.element)" }
            .joined(separator: "\n")
        return """
            dn: cn=config
            objectClass: olcGlobal
            cn: config
            olcPidFile: \(folder)/slapd.pid
            olcArgsFile: \(folder)/slapd.args
            olcLogLevel: none
            olcServerID: \(serverID)

            dn: cn=module{0},cn=config
            objectClass: olcModuleList
            cn: module{0}
            olcModulePath: /usr/lib/ldap
            olcModuleLoad: back_mdb
            olcModuleLoad: syncprov

            dn: cn=schema,cn=config
            objectClass: olcSchemaConfig
            cn: schema

            include: file:///etc/ldap/schema/core.ldif

            include: file:///etc/ldap/schema/cosine.ldif

            include: file://\(folder)/siteloc.ldif

            dn: olcDatabase={-1}frontend,cn=config
            objectClass: olcDatabaseConfig
            objectClass: olcFrontendConfig
            olcDatabase: {-1}frontend
            olcSizeLimit: size.soft=1000 size.hard=unlimited size.prtotal=unlimited

            dn: olcDatabase={0}config,cn=config
            objectClass: olcDatabaseConfig
            olcDatabase: {0}config
            olcRootDN: cn=admin,cn=config
            olcRootPW: \(passwordHash)
            olcAccess: {0}to * by dn.exact=\(localOwner) manage by * none

            dn: olcDatabase={1}mdb,cn=config
            objectClass: olcDatabaseConfig
            objectClass: olcMdbConfig
            olcDatabase: {1}mdb
            olcSuffix: \(layout.suffix)
            olcRootDN: \(layout.adminDN)
            olcRootPW: \(passwordHash)
            olcDbDirectory: \(folder)/db
            olcDbMaxSize: 1073741824
            olcDbNoSync: TRUE
            \(indexLines)
            \(accessLines)
            olcLimits: {0}dn.exact="\(layout.adminDN)" size=unlimited time=unlimited

            dn: olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config
            objectClass: olcOverlayConfig
            objectClass: olcSyncProvConfig
            olcOverlay: {0}syncprov
            olcSpCheckpoint: 100 10

            """
    }
}
