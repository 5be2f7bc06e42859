public import Foundation
public import SiteModel
public import SiteRouting

#if canImport(Glibc)
import Glibc
#endif

/// `siteloc send package ID`: at the package's source site, one signed job into the outbox for every other site
/// whose distribution points the package lists; the source site's own distribution points get it at once.
public enum PackageSending {
    public struct Sent: Sendable, Encodable {
        public var package: String
        public var source: String
        public var placedAtSource: [String]
        public var jobs: [SentJob]
    }

    public struct SentJob: Sendable, Encodable {
        public var id: String
        public var destination: String
        public var route: [String]
    }

    public static func send(
        _ packageID: String,
        hierarchy: Hierarchy,
        sitesDirectory: URL,
        content: URL?,
        priority: JobPriority = .medium,
        now: Date = Date()
    ) throws(SiteServerError) -> Sent {
        guard let package = hierarchy.package(ASCII.uppercased(packageID)) else {
            throw SiteServerError(
                "package \(packageID) is not in the hierarchy; expected one of: "
                    + hierarchy.packages.map(\.id).joined(separator: ", ")
            )
        }
        let source = SiteFolders(site: package.sourceSite, sitesDirectory: sitesDirectory)
        let key = try SiteSigningKey(contentsOf: source.signingKey)
        guard let database = try source.openDatabase() else {
            throw SiteServerError("cannot open the site database of \(package.sourceSite)", kind: .internalError)
        }
        let library = ContentLibrary(folders: source, database: database)
        let placement: PackagePlacement
        if let content {
            guard FileManager.default.isReadableFile(atPath: content.path) else {
                throw SiteServerError("cannot read the package content \(content.path); expected a readable file")
            }
            placement = try library.place(package, in: hierarchy, from: content, job: nil, created: now, now: now)
        } else if let existing = library.placement(package.id) {
            placement = existing
        } else {
            throw SiteServerError(
                "package \(package.id) has no content at its source site \(package.sourceSite) yet; give it with"
                    + " --content FILE"
            )
        }
        if content != nil {
            // A source site below the top reports its own placement up, like any site.
            try PackageStatusJob.queue(
                placement,
                of: package.sourceSite,
                source: try PackageStatusJob.source(of: placement, at: package.sourceSite, key: key),
                id: PackageStatusJob.jobID(placedBy: nil, package: package.id, site: package.sourceSite),
                hierarchy: hierarchy,
                folders: source,
                key: key
            )
        }
        let planner = RoutePlanner(hierarchy: hierarchy)
        var jobs: [SentJob] = []
        let destinations = hierarchy.sites.filter { site in
            site.code != package.sourceSite
                && site.systems.contains {
                    $0.roles.contains(.distributionPoint) && package.distributionPoints.contains($0.host)
                }
        }
        for site in destinations {
            var header = JobHeader(
                id: JobHeader.newID(package: package.id, destination: site.code),
                package: package.id,
                origin: package.sourceSite,
                destination: site.code,
                signer: package.sourceSite,
                priority: priority,
                created: placement.created,
                payloadBytes: placement.bytes,
                payloadSHA256: placement.sha256
            )
            try header.signAsOrigin(with: key)
            try JobFile.write(
                header,
                payload: library.contentFile(package.id, version: placement.version),
                signedBy: key,
                to: source.outbox.appendingPathComponent(header.id + "." + JobFile.suffix)
            )
            let path = planner.path(from: package.sourceSite, to: site.code) ?? []
            jobs.append(SentJob(id: header.id, destination: site.code.rawValue, route: path.map(\.rawValue)))
        }
        return Sent(
            package: package.id,
            source: package.sourceSite.rawValue,
            placedAtSource: placement.distributionPoints,
            jobs: jobs
        )
    }

    /// `siteloc courier import`: takes a parcel into the destination site's inbox, where its site server verifies
    /// it like any other job.
    public static func importParcel(_ parcel: URL, into folders: SiteFolders) throws(SiteServerError) -> JobHeader {
        let job: JobFile
        do {
            job = try JobFile.read(parcel)
        } catch {
            throw SiteServerError("\(parcel.path) is not a courier parcel: \(error.message)")
        }
        try folders.create()
        // The name is made only of the header's id and signer, which reading the parcel checked to their exact form.
        let name = StandardSender.inboxName(job.header)
        let temporary = folders.inbox.appendingPathComponent("." + name + ".tmp")
        do {
            let input = try RegularFile.openForReading(parcel)
            defer { try? input.close() }
            let output = try RegularFile.createForWriting(temporary)
            defer { try? output.close() }
            while let block = try input.read(upToCount: 1 << 20), !block.isEmpty { try output.write(contentsOf: block) }
            try output.synchronize()
        } catch {
            unlink(temporary.path)
            throw SiteServerError(
                "cannot copy \(parcel.path) into \(folders.inbox.path): \(error)",
                kind: .internalError
            )
        }
        guard rename(temporary.path, folders.inbox.appendingPathComponent(name).path) == 0 else {
            unlink(temporary.path)
            throw SiteServerError("cannot move the parcel into \(folders.inbox.path)", kind: .internalError)
        }
        return job.header
    }
}
