import Foundation
import SiteDatabase
import SiteModel
import SiteRouting

/// Status jobs (docs/site-communication.md, "Package status"): a site that places a version of a package sends its
/// `PackageStatus` — which version, on which of its distribution points, when — to the top of the hierarchy; each
/// site on the way up records it and sends it on, so every site knows the placements of every site below it and
/// nothing of the others.
enum PackageStatusJob {
    /// The most a status may be: a site has few distribution points.
    static let sizeLimit = 64 * 1024

    /// Reads the status a status job carries and checks it against the job and the hierarchy: it speaks of the
    /// job's origin and package, names a version, and only distribution points the hierarchy gives that site.
    static func read(_ job: JobFile, hierarchy: Hierarchy) throws(JobRejection) -> PackageStatus {
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
        guard var status = try? RecordCoding.decoder().decode(PackageStatus.self, from: data) else {
            throw JobRejection(.malformed, "has a status that is not a package status report")
        }
        // When it arrived is this site's to say; when the version was created, the source's (verified later).
        status.receivedAt = nil
        status.created = nil
        let points = Set(
            hierarchy.site(header.origin)?.systems.filter { $0.roles.contains(.distributionPoint) }.map(\.host) ?? []
        )
        let hex = status.version.dropFirst(ContentLibrary.versionPrefix.count)
        guard status.site == header.origin.rawValue, status.package == header.package,
            status.version.hasPrefix(ContentLibrary.versionPrefix), JobHeader.isHexDigest(String(hex)),
            status.distributionPoints.allSatisfy(points.contains)
        else {
            throw JobRejection(
                .malformed,
                "has a status that does not match it: expected the status of \(header.origin) for \(header.package),"
                    + " a sha256: version and only \(header.origin)'s distribution points"
            )
        }
        return status
    }

    /// Queues the status job that reports `placement` of `site` to the top of the hierarchy, signed by the site as
    /// origin and as the first hop, into `folders`' outbox. `id` makes queueing it again after a crash harmless;
    /// a site without a parent reports to nobody.
    static func queue(
        _ placement: PackagePlacement,
        of site: SiteCode,
        source: VersionSource,
        id: String,
        hierarchy: Hierarchy,
        folders: SiteFolders,
        key: SiteSigningKey
    ) throws(SiteServerError) {
        guard let top = top(above: site, in: hierarchy) else { return }
        let outgoing = folders.outbox.appendingPathComponent(id + "." + JobFile.suffix)
        if FileManager.default.fileExists(atPath: outgoing.path) { return }
        let status = PackageStatus(
            site: site.rawValue,
            package: placement.package,
            version: placement.version,
            distributionPoints: placement.distributionPoints,
            placedAt: placement.placed,
            source: source
        )
        guard let payload = try? RecordCoding.encoder().encode(status) else {
            throw SiteServerError("cannot encode the status of \(placement.package)", kind: .internalError)
        }
        let (digest, bytes) = JobFile.digest(of: payload)
        var header = JobHeader(
            id: id,
            kind: .status,
            package: placement.package,
            origin: site,
            destination: top,
            signer: site,
            priority: .high,
            created: placement.placed,
            payloadBytes: bytes,
            payloadSHA256: digest
        )
        try header.signAsOrigin(with: key)
        try JobFile.write(header, payload: payload, signedBy: key, to: outgoing)
    }

    /// The source's signed word for the version a package job carries.
    static func source(of header: JobHeader) -> VersionSource? {
        header.originSignature.map {
            VersionSource(
                job: header.id,
                destination: header.destination.rawValue,
                created: header.created,
                bytes: header.payloadBytes,
                signature: $0
            )
        }
    }

    /// The source site signs a version it placed itself as if it had sent it to itself.
    static func source(
        of placement: PackagePlacement,
        at site: SiteCode,
        key: SiteSigningKey
    ) throws(SiteServerError) -> VersionSource {
        var header = JobHeader(
            id: "\(placement.package)-\(site)-version-\(JobHeader.randomSuffix())",
            package: placement.package,
            origin: site,
            destination: site,
            signer: site,
            priority: .high,
            created: placement.created,
            payloadBytes: placement.bytes,
            payloadSHA256: placement.sha256
        )
        try header.signAsOrigin(with: key)
        guard let made = source(of: header) else {
            throw SiteServerError("cannot sign \(placement.package)'s version", kind: .internalError)
        }
        return made
    }

    /// The package job header `source` stands for, to be checked with the package's source site's key; nil when
    /// `status` names no version the statement could be about.
    static func sourceHeader(of status: PackageStatus, from sourceSite: SiteCode) -> JobHeader? {
        guard let source = status.source, let destination = try? SiteCode(exactly: source.destination),
            JobHeader.isSafeID(source.job), source.bytes >= 0
        else { return nil }
        var header = JobHeader(
            id: source.job,
            package: status.package,
            origin: sourceSite,
            destination: destination,
            signer: sourceSite,
            priority: .high,
            created: source.created,
            payloadBytes: source.bytes,
            payloadSHA256: String(status.version.dropFirst(ContentLibrary.versionPrefix.count))
        )
        header.originSignature = source.signature
        return header
    }

    /// The top of the hierarchy above `site`; nil when `site` is the top (it reports to nobody).
    static func top(above site: SiteCode, in hierarchy: Hierarchy) -> SiteCode? {
        var top = site
        for _ in hierarchy.sites {
            guard let parent = hierarchy.site(top)?.parent else { break }
            top = parent
        }
        return top == site ? nil : top
    }

    /// A status job's id: the id of the job that placed the version, or a new one where the source site placed it.
    static func jobID(placedBy job: String?, package: String, site: SiteCode) -> String {
        if let job, job.utf8.count <= 57 { return job + "-status" }
        return "\(package)-\(site)-status-\(JobHeader.randomSuffix())"
    }
}
