public import Foundation
import SiteDatabase
public import SiteModel
import SiteRouting

#if canImport(Glibc)
import Glibc
#endif

/// The payload of a status job: which version of a package a site placed on which of its distribution points, and
/// when. A site sends one to its parent whenever it places a version; each site on the way up records it and sends
/// it on, so every site knows the placements of every site below it and nothing of the others.
public struct PackageStatusReport: Codable, Sendable, Equatable {
    public var site: String
    public var package: String
    public var version: String
    public var distributionPoints: [String]
    public var placedAt: Date

    public init(site: SiteCode, placement: PackagePlacement) {
        self.site = site.rawValue
        package = placement.package
        version = placement.version
        distributionPoints = placement.distributionPoints
        placedAt = placement.placed
    }

    /// The most a report's bytes may be: a site has few distribution points.
    static let sizeLimit = 64 * 1024

    /// Reads the report a status job carries and checks it against the job and the hierarchy: it speaks of the
    /// job's origin and package, names a version, and only distribution points the hierarchy gives that site.
    static func read(_ job: JobFile, hierarchy: Hierarchy) throws(JobRejection) -> PackageStatusReport {
        let header = job.header
        guard header.payloadBytes <= Int64(sizeLimit) else {
            throw JobRejection(.malformed, "carries a status of \(header.payloadBytes) bytes; at most \(sizeLimit)")
        }
        let data: Data
        do {
            let handle = try RegularFile.openForReading(job.url)
            defer { try? handle.close() }
            try handle.seek(toOffset: job.payloadOffset)
            data = try handle.read(upToCount: sizeLimit + 1) ?? Data()
        } catch {
            throw JobRejection(.malformed, "has a status that cannot be read")
        }
        guard let report = try? RecordCoding.decoder().decode(PackageStatusReport.self, from: data) else {
            throw JobRejection(.malformed, "has a status that is not a package status report")
        }
        let points = Set(
            hierarchy.site(header.origin)?.systems.filter { $0.roles.contains(.distributionPoint) }.map(\.host) ?? []
        )
        let hex = report.version.dropFirst(ContentLibrary.versionPrefix.count)
        guard report.site == header.origin.rawValue, report.package == header.package,
            report.version.hasPrefix(ContentLibrary.versionPrefix), JobHeader.isHexDigest(String(hex)),
            report.distributionPoints.allSatisfy(points.contains)
        else {
            throw JobRejection(
                .malformed,
                "has a status that does not match it: expected the status of \(header.origin) for \(header.package),"
                    + " a sha256: version and only \(header.origin)'s distribution points"
            )
        }
        return report
    }

    var status: PackageStatus {
        PackageStatus(
            site: site,
            package: package,
            version: version,
            distributionPoints: distributionPoints,
            placedAt: placedAt
        )
    }

    /// Queues the status job that reports `placement` of `site` to the top of the hierarchy, signed by the site as
    /// origin and as the first hop, into `folders`' outbox. `id` makes queueing it again after a crash harmless;
    /// a site without a parent reports to nobody.
    static func queue(
        _ placement: PackagePlacement,
        of site: SiteCode,
        id: String,
        hierarchy: Hierarchy,
        folders: SiteFolders,
        key: SiteSigningKey
    ) throws(SiteServerError) {
        guard hierarchy.site(site)?.parent != nil, let top = hierarchy.sites.first(where: { $0.parent == nil }) else {
            return
        }
        let outgoing = folders.outbox.appendingPathComponent(id + "." + JobFile.suffix)
        if FileManager.default.fileExists(atPath: outgoing.path) { return }
        let report = PackageStatusReport(site: site, placement: placement)
        guard let data = try? RecordCoding.encoder().encode(report) else {
            throw SiteServerError("cannot encode the status of \(placement.package)")
        }
        let payload = AtomicFile.temporary(for: outgoing)
        try AtomicFile.write(payload, contents: data, durable: false)
        defer { unlink(payload.path) }
        let (digest, bytes) = try JobFile.digest(of: payload)
        var header = JobHeader(
            id: id,
            kind: .status,
            package: placement.package,
            origin: site,
            destination: top.code,
            signer: site,
            priority: .high,
            created: placement.placed,
            payloadBytes: bytes,
            payloadSHA256: digest
        )
        try header.signAsOrigin(with: key)
        try JobFile.write(header, payload: payload, signedBy: key, to: outgoing)
    }

    /// A status job's id: the id of the job that placed the version, or a new one where the source site placed it.
    static func jobID(placedBy job: String?, package: String, site: SiteCode) -> String {
        if let job, job.utf8.count <= 57 { return job + "-status" }
        let random = (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return "\(package)-\(site)-status-\(random)"
    }
}
