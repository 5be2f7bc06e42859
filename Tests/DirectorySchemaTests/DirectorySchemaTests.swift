import Foundation
import Testing

@testable import DirectorySchema

@Suite struct DirectorySchemaTests {
    @Test func hasTheFourConfigurationManagerClassesAndFourteenAttributesWithMicrosoftsOIDs() {
        let classes = DirectorySchema.objectClasses.filter { $0.origin == .configurationManager }
        #expect(
            Dictionary(uniqueKeysWithValues: classes.map { ($0.name, $0.oid) }) == [
                "mSSMSManagementPoint": "1.2.840.113556.1.6.29.2.2.1",
                "mSSMSSite": "1.2.840.113556.1.6.29.2.2.2",
                "mSSMSServerLocatorPoint": "1.2.840.113556.1.6.29.2.2.3",
                "mSSMSRoamingBoundaryRange": "1.2.840.113556.1.6.29.2.2.4",
            ]
        )
        let attributes = DirectorySchema.attributeTypes.filter { $0.origin == .configurationManager }
        #expect(attributes.count == 14)
        #expect(attributes.allSatisfy { $0.oid.hasPrefix("1.2.840.113556.1.6.29.2.1.") })
        #expect(!attributes.map(\.oid).contains("1.2.840.113556.1.6.29.2.1.13"))
        #expect(attributes.first { $0.name == "mSSMSRangedIPLow" }?.oid == "1.2.840.113556.1.6.29.2.1.7")
    }

    @Test func activeDirectoryPiecesCarryMicrosoftsOIDs() {
        let oids = Dictionary(
            uniqueKeysWithValues: (DirectorySchema.objectClasses.map { ($0.name, $0.oid) }
                + DirectorySchema.attributeTypes.map { ($0.name, $0.oid) })
        )
        #expect(oids["container"] == "1.2.840.113556.1.3.23")
        #expect(oids["serviceConnectionPoint"] == "1.2.840.113556.1.5.126")
        #expect(oids["crossRefContainer"] == "1.2.840.113556.1.5.7000.53")
        #expect(oids["trustedDomain"] == "1.2.840.113556.1.5.34")
        #expect(oids["computer"] == "1.2.840.113556.1.3.30")
        #expect(oids["msDS-Behavior-Version"] == "1.2.840.113556.1.4.1459")
        #expect(oids["serviceBindingInformation"] == "1.2.840.113556.1.4.510")
        #expect(oids["trustAttributes"] == "1.2.840.113556.1.4.470")
        // Sites and subnets where Active Directory keeps them (MS-ADSC, MS-ADA3).
        #expect(oids["sitesContainer"] == "1.2.840.113556.1.5.107")
        #expect(oids["site"] == "1.2.840.113556.1.5.31")
        #expect(oids["subnetContainer"] == "1.2.840.113556.1.5.95")
        #expect(oids["subnet"] == "1.2.840.113556.1.5.96")
        #expect(oids["siteObject"] == "1.2.840.113556.1.4.512")
        #expect(oids["serverName"] == "1.2.840.113556.1.4.223")
        #expect(oids["dNSHostName"] == "1.2.840.113556.1.4.619")
    }

    /// A quote or backslash in a description ends RFC 4512's quoted string early: slapd refuses the whole schema.
    @Test func descriptionsAreQuotableAsTheyStand() {
        let summaries = DirectorySchema.attributeTypes.map(\.summary) + DirectorySchema.objectClasses.map(\.summary)
        for summary in summaries {
            #expect(!summary.contains("'") && !summary.contains("\\"), "\(summary)")
        }
    }

    /// Microsoft assigns the root DSE attributes no OID: they are siteloc's, by the names AD's clients read.
    @Test func theRootDSEAttributesHaveADsNamesUnderTheProjectArc() {
        let names = [
            "defaultNamingContext", "rootDomainNamingContext", "configurationNamingContext", "domainFunctionality",
            "forestFunctionality", "domainControllerFunctionality", "isSynchronized",
        ]
        for name in names {
            let definition = DirectorySchema.attributeTypes.first { $0.name == name }
            #expect(definition?.origin == .siteloc && definition?.singleValued == true, "\(name)")
        }
    }

    @Test func everyNameAndOIDIsUniqueAndOwnExtensionsUseTheProjectArc() {
        let all =
            DirectorySchema.objectClasses.map { ($0.name, $0.oid, $0.origin) }
            + DirectorySchema.attributeTypes.map { ($0.name, $0.oid, $0.origin) }
        #expect(Set(all.map(\.0)).count == all.count)
        #expect(Set(all.map(\.1)).count == all.count)
        #expect(all.filter { $0.2 == .siteloc }.allSatisfy { $0.1.hasPrefix(DirectorySchema.projectArc + ".") })
    }

    @Test func everyReferencedNameIsDefined() {
        let stock: Set = ["top", "cn", "description", "userPassword"]
        let defined = Set(DirectorySchema.objectClasses.map(\.name) + DirectorySchema.attributeTypes.map(\.name))
        for objectClass in DirectorySchema.objectClasses {
            #expect(stock.contains(objectClass.superior) || defined.contains(objectClass.superior))
            for name in objectClass.must + objectClass.may {
                #expect(stock.contains(name) || defined.contains(name), "\(objectClass.name) names \(name)")
            }
        }
    }

    @Test func theRangeAttributesAreNotIndexed() {
        let indexed = Set(DirectorySchema.indexes.map(\.attribute))
        #expect(indexed.isSuperset(of: ["objectClass", "mSSMSSiteCode", "mSSMSRoamingBoundaries", "mSSMSDefaultMP"]))
        #expect(indexed.isSuperset(of: ["sitelocRangeBlock", "entryCSN", "entryUUID"]))
        #expect(!indexed.contains("mSSMSRangedIPLow") && !indexed.contains("mSSMSRangedIPHigh"))
    }

    @Test func foldedLDIFUnfoldsToTheDefinitions() {
        let unfolded = DirectorySchema.ldif.replacingOccurrences(of: "\n ", with: "")
        let values = unfolded.split(separator: "\n").filter {
            $0.hasPrefix("olcAttributeTypes: ") || $0.hasPrefix("olcObjectClasses: ")
        }
        .map { String($0.split(separator: " ", maxSplits: 1)[1]) }
        #expect(
            values == DirectorySchema.attributeTypes.map(\.definition) + DirectorySchema.objectClasses.map(\.definition)
        )
    }

    /// Schema/ is generated from this module; the files must not drift from it.
    @Test(arguments: [("siteloc.ldif", DirectorySchema.ldif), ("siteloc.schema", DirectorySchema.slapdSchema)])
    func shippedFilesMatchTheDefinitions(file: String, expected: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let shipped = try String(contentsOf: root.appendingPathComponent("Schema/\(file)"), encoding: .utf8)
        #expect(shipped == expected, "Schema/\(file) is stale: run `make schema`")
    }
}
