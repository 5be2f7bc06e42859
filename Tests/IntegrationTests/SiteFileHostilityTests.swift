import Foundation
import SiteModel
import SiteServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Files someone else put there: an inbox is an SMB share any neighbour writes to, a parcel comes on removable
/// media. Only regular files are read, no link is followed, no header field becomes a path, nothing waits forever.
@Suite(.timeLimit(.minutes(1))) struct SiteFileHostility {
    /// A job file written by hand, with any header text at all.
    static func craftedJob(header: String, payload: Data = Data("x".utf8)) -> Data {
        Data("siteloc-job 2\n\(header)\n-\n".utf8) + payload
    }

    static func header(
        signer: String = "CEN",
        destination: String = "P01",
        id: String = "CEN00001-P01-0123456789ab"
    ) -> String {
        """
        {"created":"2026-11-30T10:00:00.000Z","destination":"\(destination)","id":"\(id)","kind":"package",\
        "origin":"CEN","originVerified":false,"package":"CEN00001","payloadBytes":1,\
        "payloadSHA256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881","priority":"medium",\
        "signer":"\(signer)"}
        """
    }

    @Test func aParcelWhoseSignerIsAPathWritesNothingAnywhere() throws {
        let sites = try SiteServerOrigin.makeSites()
        defer { sites.remove() }
        let outside = sites.directory.appendingPathComponent("SOMEWHERE", isDirectory: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let p01 = try sites.folders("P01")
        // The two directories any client of the SMS_P01 share can create, then a signer that climbs out of them.
        for name in ["CEN00001-P01-0123456789ab.", "CEN00001-P01-0123456789ab./x"] {
            try? FileManager.default.createDirectory(
                at: p01.inbox.appendingPathComponent("." + name),
                withIntermediateDirectories: true
            )
        }
        for signer in ["/../../../../SOMEWHERE/x", "cen", "CE\\nN", "C/N"] {
            let parcel = sites.directory.appendingPathComponent("crafted.parcel")
            try Self.craftedJob(header: Self.header(signer: signer)).write(to: parcel)
            #expect(throws: SiteServerError.self) { _ = try PackageSending.importParcel(parcel, into: p01) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
        #expect(try sites.inbox("P01").filter { $0.hasSuffix(".job") }.isEmpty)
    }

    @Test func aParcelThatIsALinkOrAFIFOIsRefusedAtOnce() throws {
        let sites = try SiteServerOrigin.makeSites()
        defer { sites.remove() }
        let p01 = try sites.folders("P01")
        let real = sites.directory.appendingPathComponent("real.parcel")
        try Self.craftedJob(header: Self.header()).write(to: real)
        let link = sites.directory.appendingPathComponent("link.parcel")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: real)
        let fifo = sites.directory.appendingPathComponent("fifo.parcel")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        for parcel in [link, fifo] {
            #expect(throws: SiteServerError.self) { _ = try PackageSending.importParcel(parcel, into: p01) }
        }
        #expect(try sites.inbox("P01").filter { !$0.hasPrefix(".") }.isEmpty)
    }

    @Test func aFIFOInTheInboxIsRefusedAndTheJobsBesideItGoOn() async throws {
        let sites = try SiteServerOrigin.makeSites()
        defer { sites.remove() }
        let p01 = try sites.folders("P01")
        #expect(mkfifo(p01.inbox.appendingPathComponent("AAA.CEN.fifo.job").path, 0o644) == 0)
        let outside = sites.directory.appendingPathComponent("elsewhere.job")
        try Self.craftedJob(header: Self.header()).write(to: outside)
        try FileManager.default.createSymbolicLink(
            at: p01.inbox.appendingPathComponent("AAB.CEN.link.job"),
            withDestinationURL: outside
        )
        let good = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: try sites.signingKey("CEN"))
        let refused = try await SiteServerOrigin.refusals(at: "P01", sites)
        #expect(refused == ["AAA": "malformed", "AAB": "malformed"])
        #expect(FileManager.default.fileExists(atPath: p01.outbox.appendingPathComponent("\(good).job").path))
        // The link was moved aside as a link; what it pointed at is untouched.
        #expect(try Data(contentsOf: outside) == Self.craftedJob(header: Self.header()))
    }

    @Test func aSignedJobForALowerCaseSiteIsRefusedNotLooped() async throws {
        let sites = try SiteServerOrigin.makeSites()
        defer { sites.remove() }
        let p01 = try sites.folders("P01")
        let id = try sites.drop(into: "P01", signer: "CEN", destination: "S01", key: try sites.signingKey("CEN"))
        // Rewrite the destination in the file to lower case (as a crafted, correctly signed job would say it).
        let file = try #require(try sites.inbox("P01").first { $0.hasPrefix(id) })
        let url = p01.inbox.appendingPathComponent(file)
        let text = try Data(contentsOf: url)
        let changed = String(decoding: text, as: UTF8.self).replacingOccurrences(
            of: "\"destination\":\"S01\"",
            with: "\"destination\":\"s01\""
        )
        try Data(changed.utf8).write(to: url)
        #expect(try await SiteServerOrigin.refusals(at: "P01", sites) == [id: "malformed"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: p01.outbox.path).isEmpty)
    }

    @Test func aPackageFolderThatIsALinkIsNeverWrittenThrough() async throws {
        let sites = try SiteServerOrigin.makeSites()
        defer { sites.remove() }
        let outside = sites.directory.appendingPathComponent("outside", isDirectory: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let p01 = try sites.folders("P01")
        try FileManager.default.createSymbolicLink(
            at: p01.content.appendingPathComponent("CEN00001"),
            withDestinationURL: outside
        )
        _ = try sites.drop(into: "P01", signer: "CEN", destination: "P01", key: try sites.signingKey("CEN"))
        let server = try SiteServerRefusal.server("P01", sites)
        await server.processInbox()
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
        #expect(SiteStatus(folders: p01).packages.isEmpty)
    }
}
