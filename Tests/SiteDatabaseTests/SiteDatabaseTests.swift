import Foundation
import SiteDatabase
import Testing

@Suite struct SiteDatabaseTests {
    static func withDatabase(_ body: (URL, SiteDatabase) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(SiteDatabase.fileName)
        try body(url, try SiteDatabase(url: url))
    }

    static func placement(_ version: String, points: [String], created: Double) -> SitePlacement {
        SitePlacement(
            package: "CEN00001",
            version: version,
            bytes: 10,
            distributionPoints: points,
            created: Date(timeIntervalSince1970: created),
            placedAt: Date(timeIntervalSince1970: created + 1),
            job: "J-\(version)"
        )
    }

    @Test func aNewVersionReplacesTheOldOneAndItsDistributionPoints() throws {
        try Self.withDatabase { _, database in
            try database.place(Self.placement("sha256:aa", points: ["dp1.c.com", "dp2.c.com"], created: 100))
            try database.place(Self.placement("sha256:bb", points: ["dp2.c.com"], created: 200))
            let placed = try #require(try database.placement(of: "CEN00001"))
            #expect(placed.version == "sha256:bb")
            #expect(placed.distributionPoints == ["dp2.c.com"])
            #expect(placed.created == Date(timeIntervalSince1970: 200))
            #expect(try database.placements().count == 1)
            #expect(try database.placement(of: "CEN00002") == nil)
        }
    }

    @Test func aNewerStatusReplacesAnOlderOneAndAnOlderOneChangesNothing() throws {
        try Self.withDatabase { _, database in
            let first = PackageStatus(
                site: "S01",
                package: "CEN00001",
                version: "sha256:aa",
                distributionPoints: ["s01-dp.c.com"],
                placedAt: Date(timeIntervalSince1970: 100)
            )
            #expect(try database.record(first))
            var newer = first
            newer.version = "sha256:bb"
            newer.placedAt = Date(timeIntervalSince1970: 200)
            #expect(try database.record(newer))
            var late = first
            late.version = "sha256:00"
            #expect(try !database.record(late))
            #expect(try !database.record(newer))  // the same status again: nothing new
            let recorded = try database.statuses(package: "CEN00001")
            #expect(recorded.map(\.version) == ["sha256:bb"])
            #expect(recorded.first?.distributionPoints == ["s01-dp.c.com"])
            #expect(try database.statuses(package: "CEN00009").isEmpty)
        }
    }

    /// One neighbour's jobs cannot grow the replay records without end (hostile review finding 11): the newest are
    /// kept per signer, another signer's are untouched, and a forwarded job not yet delivered keeps its record.
    @Test func handledJobRecordsAreBoundedPerSigner() throws {
        try Self.withDatabase { _, database in
            let kept = SiteDatabase.handledJobsKeptPerSigner
            let start = Date(timeIntervalSince1970: 1_000_000)
            #expect(try database.markForwarded("F-0", header: Data("h".utf8), signer: "S01", at: start))
            for index in 0..<(kept + 500) {
                let at = start.addingTimeInterval(Double(index + 1))
                #expect(try database.markHandled("S-\(index)", action: "recorded", signer: "S01", at: at))
            }
            #expect(try database.markHandled("P-0", action: "recorded", signer: "P01", at: start))
            let handled = try database.handledJobs()
            #expect(handled.filter { $0.hasPrefix("S-") }.count == kept)
            #expect(handled.contains("F-0") && handled.contains("P-0"))
            #expect(!handled.contains("S-0") && handled.contains("S-\(kept + 499)"))
            #expect(try database.isHandled("S-\(kept + 499)") && !database.isHandled("S-499"))
            // Once delivered, the forwarded job's record is an ordinary one and goes with the next insert.
            try database.removeForwardedHeader("F-0")
            #expect(try database.markHandled("S-last", action: "recorded", signer: "S01", at: Date()))
            #expect(try !database.handledJobs().contains("F-0"))
            #expect(try database.handledJobs().count == kept + 1)
        }
    }

    @Test func aReaderSeesWhatTheWriterWroteAndCannotWrite() throws {
        try Self.withDatabase { url, database in
            let reader = try SiteDatabase(url: url, readOnly: true)
            #expect(try reader.placements().isEmpty)
            try database.place(Self.placement("sha256:aa", points: ["dp1.c.com"], created: 100))
            #expect(try reader.placement(of: "CEN00001")?.version == "sha256:aa")
            #expect(throws: SiteDatabaseError.self) {
                try reader.place(Self.placement("sha256:bb", points: [], created: 300))
            }
            // Opening again migrates nothing and keeps the data.
            #expect(try SiteDatabase(url: url).placement(of: "CEN00001")?.version == "sha256:aa")
        }
    }

    @Test func aFileThatIsNotADatabaseIsAClearError() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-db-\(UUID().uuidString)")
        try Data("not a database, just text that is long enough to have a header".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            _ = try SiteDatabase(url: file)
            Issue.record("a text file opened as a site database")
        } catch {
            #expect(error.description.contains("cannot open the site database \(file.path)"))
        }
    }
}
