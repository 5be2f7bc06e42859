import Foundation
import HierarchyFile
import SiteDatabase
import SiteModel
import SiteRouting
import Testing

@testable import SiteServer

/// The job file, keys and the pure delivery rules, on real files in a scratch folder (no server, no directory).
@Suite struct JobAndKeyTests {
    static let yaml = """
        version: 1
        forests:
          - {name: corp.contoso.com, functionalLevel: windows2003, serverOS: windows2003}
        sites:
          - code: CEN
            type: primary
            forest: corp.contoso.com
            server: cen-ss.corp.contoso.com
            systems: [{host: cen-dp.corp.contoso.com, roles: [distributionPoint]}]
            addresses:
              - {to: P01, sender: asyncRas, priority: 1}
              - {to: P01, sender: standard, priority: 2}
              - {to: P01, sender: courier, priority: 3}
          - code: P01
            type: primary
            parent: CEN
            forest: corp.contoso.com
            server: p01-ss.corp.contoso.com
            systems: [{host: p01-dp.corp.contoso.com, roles: [distributionPoint]}]
            addresses:
              - {to: CEN, sender: standard, priority: 1}
              - {to: S01, sender: standard, priority: 1}
              - {to: S01, sender: asyncRas, priority: 2, unavailableToSubstitute: true}
          - code: S01
            type: secondary
            parent: P01
            forest: corp.contoso.com
            server: s01-ss.corp.contoso.com
            addresses:
              - {to: P01, sender: standard, priority: 1}
        packages:
          - {id: CEN00001, sourceSite: CEN, distributionPoints: [cen-dp.corp.contoso.com, p01-dp.corp.contoso.com]}
        """

    static func hierarchy() throws -> Hierarchy {
        let result = HierarchyReader.read(yaml)
        try #require(result.errors.isEmpty, "\(result.errors)")
        return result.hierarchy
    }

    /// A scratch folder removed after the test.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func withFolder(_ body: (URL) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try body(folder)
    }

    /// Writes a payload and a job carrying it, signed by `key` (nil: unsigned), and returns the job file.
    static func writeJob(
        in folder: URL,
        signer: String = "CEN",
        key: SiteSigningKey?,
        payload: Data = Data(repeating: 0xA5, count: 300_000)
    ) throws -> URL {
        let content = folder.appendingPathComponent("content-\(UUID().uuidString)")
        try payload.write(to: content)
        let (digest, bytes) = try JobFile.digest(of: content)
        let header = JobHeader(
            id: JobHeader.newID(package: "CEN00001", destination: try SiteCode("P01")),
            package: "CEN00001",
            origin: try SiteCode("CEN"),
            destination: try SiteCode("P01"),
            signer: try SiteCode(signer),
            priority: .medium,
            created: Date(),
            payloadBytes: bytes,
            payloadSHA256: digest
        )
        let job = folder.appendingPathComponent(header.id + ".job")
        try JobFile.write(header, payload: content, signedBy: key, to: job)
        return job
    }

    static func rejection(_ body: () throws(JobRejection) -> Void) -> JobRejection.Code? {
        do {
            try body()
            return nil
        } catch {
            return error.code
        }
    }

    @Test func aSignedJobReadsBackAndVerifiesWithTheSignersKey() throws {
        try Self.withFolder { folder in
            let key = SiteSigningKey()
            let url = try Self.writeJob(in: folder, key: key)
            let job = try JobFile.read(url)
            #expect(job.header.package == "CEN00001")
            #expect(job.header.payloadBytes == 300_000)
            #expect(Self.rejection { () throws(JobRejection) in try job.verify(with: key.publicKey) } == nil)
            let text = try String(decoding: Data(contentsOf: url).prefix(20), as: UTF8.self)
            #expect(text.hasPrefix("siteloc-job 2\n{"))
        }
    }

    @Test func everyTamperingIsRefusedWithItsOwnReason() throws {
        try Self.withFolder { folder in
            let key = SiteSigningKey()
            // Signed by another key than the signer's.
            let other = try JobFile.read(try Self.writeJob(in: folder, key: SiteSigningKey()))
            #expect(
                Self.rejection { () throws(JobRejection) in try other.verify(with: key.publicKey) } == .badSignature
            )
            // Unsigned.
            let unsigned = try JobFile.read(try Self.writeJob(in: folder, key: nil))
            #expect(Self.rejection { () throws(JobRejection) in try unsigned.verify(with: key.publicKey) } == .unsigned)
            // The payload changed after signing: one byte near the end.
            let payloadURL = try Self.writeJob(in: folder, key: key)
            var bytes = try Data(contentsOf: payloadURL)
            bytes[bytes.count - 10] ^= 0xFF
            try bytes.write(to: payloadURL)
            let payloadChanged = try JobFile.read(payloadURL)
            #expect(
                Self.rejection { () throws(JobRejection) in try payloadChanged.verify(with: key.publicKey) } == .altered
            )
            // The header changed after signing: the destination rewritten.
            let headerURL = try Self.writeJob(in: folder, key: key)
            let original = try String(decoding: Data(contentsOf: headerURL).prefix(400), as: UTF8.self)
            let changed = try Data(contentsOf: headerURL)
            let replaced = Data(
                original.replacingOccurrences(of: "\"priority\":\"medium\"", with: "\"priority\":\"high\"").utf8
            )
            #expect(replaced != Data(original.utf8))
            try (replaced + changed.dropFirst(Data(original.utf8).count)).write(to: headerURL)
            let headerChanged = try JobFile.read(headerURL)
            #expect(headerChanged.header.priority == .high)
            #expect(
                Self.rejection { () throws(JobRejection) in try headerChanged.verify(with: key.publicKey) }
                    == .badSignature
            )
            // Not a job at all.
            let junk = folder.appendingPathComponent("junk.job")
            try Data("hello\n".utf8).write(to: junk)
            #expect(Self.rejection { () throws(JobRejection) in _ = try JobFile.read(junk) } == .malformed)
        }
    }

    @Test func siteInitCreatesAPrivateKeyOnceAndRefusesAReadableOne() throws {
        try Self.withFolder { folder in
            let folders = SiteFolders(site: try SiteCode("CEN"), sitesDirectory: folder)
            let (first, created) = try folders.initialize()
            #expect(created)
            let mode = try #require(
                try FileManager.default.attributesOfItem(atPath: folders.signingKey.path)[.posixPermissions] as? Int
            )
            #expect(mode == 0o600)
            let (again, createdAgain) = try folders.initialize()
            #expect(!createdAgain)
            #expect(again == first)
            #expect(folders.readPublicKey() == first)
            chmod(folders.signingKey.path, 0o644)
            #expect(throws: SiteServerError.self) { try SiteSigningKey(contentsOf: folders.signingKey) }
            do {
                _ = try SiteSigningKey(contentsOf: folders.signingKey)
            } catch {
                #expect("\(error)".contains("chmod 600"))
            }
        }
    }

    @Test func keyFilesRoundTripAndBadOnesAreNamed() throws {
        try Self.withFolder { folder in
            let cen = SiteFolders(site: try SiteCode("CEN"), sitesDirectory: folder)
            let p01 = SiteFolders(site: try SiteCode("P01"), sitesDirectory: folder)
            let (key, _) = try cen.initialize()
            let file = folder.appendingPathComponent("cen.key")
            try SiteKeyFile(site: try SiteCode("CEN"), forest: try ForestName("corp.contoso.com"), key: key).encoded()
                .write(to: file)
            let (site, imported) = try p01.importKey(from: file)
            #expect(site.rawValue == "CEN")
            #expect(imported == key)
            #expect(p01.importedKey(of: try SiteCode("CEN")) == key)
            #expect(throws: SiteServerError.self) { try cen.importKey(from: file) }  // its own key
            let bad = folder.appendingPathComponent("bad.key")
            try Data("{\"format\":\"something-else\"}".utf8).write(to: bad)
            do {
                _ = try p01.importKey(from: bad)
                Issue.record("a file that is not a key file was imported")
            } catch {
                #expect("\(error)".contains("siteloc keys export"))
            }
        }
    }

    @Test func rateLimitsPaceBlocks() throws {
        let pulse = RateLimiter(.pulse(blockKB: 4, delaySeconds: 2))
        #expect(pulse.blockSize == 4096)
        #expect(pulse.pause(afterBlockTaking: .milliseconds(5), at: Date()) == .seconds(2))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        let hourly = RateLimiter(.hourly([(8, 18, 25), (18, 8, 100)]), calendar: calendar)
        let ten = try #require(calendar.date(from: DateComponents(year: 2026, month: 11, day: 23, hour: 10)))
        let night = try #require(calendar.date(from: DateComponents(year: 2026, month: 11, day: 23, hour: 2)))
        #expect(hourly.pause(afterBlockTaking: .milliseconds(100), at: ten) == .milliseconds(300))
        #expect(hourly.pause(afterBlockTaking: .milliseconds(100), at: night) == .zero)
        #expect(RateLimiter(.unlimited).blockSize == 8 << 20)
        #expect(RateLimiter(.unlimited).pause(afterBlockTaking: .seconds(1), at: ten) == .zero)
    }

    @Test func aFailedAddressIsSubstitutedExceptByOneMarkedUnavailable() throws {
        let planner = RoutePlanner(hierarchy: try Self.hierarchy())
        let cen = try SiteCode("CEN")
        let p01 = try SiteCode("P01")
        let s01 = try SiteCode("S01")
        func chosen(_ from: SiteCode, _ to: SiteCode, failed: Set<Int>) -> String {
            switch AddressChoice.choose(
                planner: planner,
                from: from,
                to: to,
                priority: .medium,
                at: Date(),
                failed: failed
            )
            {
            case .use(let address): return "\(address.sender.rawValue)/\(address.priority)"
            case .waitUntil: return "wait"
            case .failed(let failure): return failure.code.rawValue
            case .exhausted: return "exhausted"
            }
        }
        // CEN → P01: the RAS address comes first (not installed: it fails), then standard, then courier.
        #expect(chosen(cen, p01, failed: []) == "asyncRas/1")
        #expect(chosen(cen, p01, failed: [1]) == "standard/2")
        #expect(chosen(cen, p01, failed: [1, 2]) == "courier/3")
        #expect(chosen(cen, p01, failed: [1, 2, 3]) == "exhausted")
        // P01 → S01: the RAS address may not substitute for the failed standard one.
        #expect(chosen(p01, s01, failed: []) == "standard/1")
        #expect(chosen(p01, s01, failed: [1]) == "exhausted")
        // S01 → CEN is not a neighbour link: no address.
        #expect(chosen(s01, cen, failed: []) == "missing-address")
    }

    @Test func placingAPackageKeepsOnlyTheSitesOwnDistributionPoints() throws {
        let hierarchy = try Self.hierarchy()
        try Self.withFolder { folder in
            let folders = SiteFolders(site: try SiteCode("P01"), sitesDirectory: folder)
            _ = try folders.initialize()
            let source = folder.appendingPathComponent("content")
            try Data("package content".utf8).write(to: source)
            let package = try #require(hierarchy.packages.first)
            let library = ContentLibrary(folders: folders, database: try #require(try folders.openDatabase()))
            let placement = try library.place(
                package,
                in: hierarchy,
                from: source,
                job: "J1",
                created: Date()
            )
            #expect(placement.distributionPoints == ["p01-dp.corp.contoso.com"])
            #expect(
                try Data(contentsOf: #require(library.currentContentFile("CEN00001")))
                    == Data("package content".utf8)
            )
            // P01's management point knows its own placement; CEN's, without a database, answers from the file.
            let knowledge = SiteContentKnowledge(hierarchy: hierarchy, sitesDirectory: folder)
            #expect(knowledge.holders(at: try SiteCode("P01"), of: "CEN00001") == ["p01-dp.corp.contoso.com"])
            #expect(
                knowledge.holders(at: try SiteCode("CEN"), of: "CEN00001")
                    == ["p01-dp.corp.contoso.com", "cen-dp.corp.contoso.com"]
            )
            // Once CEN has a database it knows only what reached it: P01's status, when P01 sends it.
            let cenFolders = SiteFolders(site: try SiteCode("CEN"), sitesDirectory: folder)
            _ = try cenFolders.initialize()
            let cen = try #require(try cenFolders.openDatabase())
            #expect(knowledge.holders(at: try SiteCode("CEN"), of: "CEN00001").isEmpty)
            try cen.record(
                PackageStatus(
                    site: "P01",
                    package: "CEN00001",
                    version: placement.version,
                    distributionPoints: placement.distributionPoints,
                    placedAt: placement.placed
                )
            )
            #expect(knowledge.holders(at: try SiteCode("CEN"), of: "CEN00001") == ["p01-dp.corp.contoso.com"])
            // A newer version at CEN: P01's point still holds the old one and is not offered any more.
            try cen.place(
                SitePlacement(
                    package: "CEN00001",
                    version: "sha256:" + String(repeating: "0", count: 64),
                    bytes: 1,
                    distributionPoints: ["cen-dp.corp.contoso.com"],
                    created: Date(),
                    placedAt: Date(),
                    job: nil
                )
            )
            #expect(knowledge.holders(at: try SiteCode("CEN"), of: "CEN00001") == ["cen-dp.corp.contoso.com"])
        }
    }
}

extension JobAndKeyTests {
    /// Found by FuzzJobFile: a `created` with a hundred digits of fractions made ICU's date parser divide by zero,
    /// killing whatever read the job (a site server reading its inbox).
    @Test func aDateWithAHundredDigitsOfFractionIsMalformedNotACrash() throws {
        let head = Data(
            ("siteloc-job 2\n{\"created\":\"2026-11-30T10:00:00.000" + String(repeating: "7", count: 100) + "Z\","
                + "\"destination\":\"P01\",\"id\":\"CEN00001-P01-0123456789ab\",\"kind\":\"package\",\"origin\":\"CEN\","
                + "\"originVerified\":false,\"package\":\"CEN00001\",\"payloadBytes\":1,\"payloadSHA256\":\""
                + String(repeating: "a", count: 64) + "\",\"priority\":\"medium\",\"signer\":\"CEN\"}\n-\nx").utf8
        )
        #expect(Self.rejection { () throws(JobRejection) in _ = try JobFile.parse(head: head) } == .malformed)
        let seed = Self.repository.appendingPathComponent("Fuzz/seeds/jobfile/crash-icu-fraction.txt")
        #expect(
            Self.rejection { () throws(JobRejection) in _ = try JobFile.parse(head: try! Data(contentsOf: seed)) }
                == .malformed
        )
    }

    @Test func datesAreReadAsTheyAreWritten() {
        for _ in 0..<1_000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: 0...4_102_444_800_000)) / 1000)
            let parsed = InternetDate.parse(RecordCoding.string(date))
            #expect(parsed.map(JobHeader.milliseconds) == JobHeader.milliseconds(date), "\(date)")
        }
        #expect(InternetDate.parse("2026-11-30T10:00:00Z") == Date(timeIntervalSince1970: 1_796_032_800))
        // Written by arithmetic, as Foundation's ISO 8601 formatter writes them (leap days and year ends included).
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let edges: [Int64] = [0, 951_782_400_000, 951_868_799_999, 1_798_761_599_999, 1_798_761_600_000]
        for milliseconds in edges + (0..<1_000).map({ _ in Int64.random(in: 0...4_102_444_800_000) }) {
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            #expect(RecordCoding.string(date) == reference.string(from: date), "\(milliseconds)")
        }
        for bad in ["2026-13-30T10:00:00Z", "2026-11-30T10:00:00", "2026-11-30 10:00:00Z", "2026-11-30T10:00:00.Z", ""]
        {
            #expect(InternetDate.parse(bad) == nil, "\(bad)")
        }
    }
}
