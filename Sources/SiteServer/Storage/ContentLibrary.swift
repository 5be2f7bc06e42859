public import Foundation
public import SiteDatabase
public import SiteModel
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Where a package's content has been placed at a site: which version, on which of the site's distribution points.
public struct PackagePlacement: Codable, Sendable, Equatable {
    public var package: String
    public var site: String
    /// `sha256:` and the hex SHA-256 of the content.
    public var version: String
    public var distributionPoints: [String]
    public var job: String?
    public var bytes: Int64
    public var sha256: String
    /// When the source site created this version: a version never goes backwards.
    public var created: Date
    public var placed: Date

    init(_ placement: SitePlacement, site: SiteCode) {
        package = placement.package
        self.site = site.rawValue
        version = placement.version
        distributionPoints = placement.distributionPoints
        job = placement.job
        bytes = placement.bytes
        sha256 = String(placement.version.dropFirst(ContentLibrary.versionPrefix.count))
        created = placement.created
        placed = placement.placedAt
    }
}

/// A site's content library: each package's current version (`content/<PKG>/<sha256 hex>.bin`), and in the site
/// database the distribution points of the site it is placed on. A file per version, named by its hash: a
/// distribution point that read the version from the database opens exactly those bytes, and a download in progress
/// keeps reading the version it started with after a newer one has replaced it.
public struct ContentLibrary: Sendable {
    public let folders: SiteFolders
    public let database: SiteDatabase
    static let versionPrefix = "sha256:"

    public init(folders: SiteFolders, database: SiteDatabase) {
        self.folders = folders
        self.database = database
    }

    /// The version name of content with this SHA-256 (hex).
    public static func version(sha256: String) -> String { versionPrefix + sha256 }

    /// The file holding a version of a package. The name comes from the hash this site computed, never from
    /// received text.
    public func contentFile(_ package: String, version: String) -> URL {
        folders.package(package).appendingPathComponent(String(version.dropFirst(Self.versionPrefix.count)) + ".bin")
    }

    /// The file of the version placed here now; nil when nothing is.
    public func currentContentFile(_ package: String) -> URL? {
        placement(package).map { contentFile($0.package, version: $0.version) }
    }

    /// Stores content (from `source`, starting at `offset`) and places it on the site's distribution points that
    /// the package lists. Repeating it with the same content changes nothing a reader can see.
    @discardableResult
    public func place(
        _ package: Package,
        in hierarchy: Hierarchy,
        from source: URL,
        offset: UInt64 = 0,
        job: String?,
        created: Date,
        now: Date = Date()
    ) throws(SiteServerError) -> PackagePlacement {
        let folder = folders.package(package.id)
        try RegularFile.createDirectory(folder)
        let temporary = AtomicFile.temporary(for: folder.appendingPathComponent("content"))
        let digest: String
        let bytes: Int64
        do {
            let output = try RegularFile.createForWriting(temporary)
            defer { try? output.close() }
            // Held until the file is closed: a site server starting meanwhile sees it is being written.
            flock(output.fileDescriptor, LOCK_EX)
            (digest, bytes) = try JobFile.stream(source, from: offset, into: output)
            try output.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SiteServerError(
                "cannot store package \(package.id) in \(folder.path): \(error)",
                kind: .internalError
            )
        }
        let version = Self.version(sha256: digest)
        let target = contentFile(package.id, version: version)
        guard rename(temporary.path, target.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw SiteServerError(
                "cannot store package \(package.id) in \(folder.path): \(reason)",
                kind: .internalError
            )
        }
        let ownPoints = Set(
            hierarchy.site(folders.site)?.systems.filter { $0.roles.contains(.distributionPoint) }.map(\.host) ?? []
        )
        let placement = SitePlacement(
            package: package.id,
            version: version,
            bytes: bytes,
            distributionPoints: package.distributionPoints.filter { ownPoints.contains($0) },
            created: JobHeader.wholeMilliseconds(created),
            placedAt: JobHeader.wholeMilliseconds(now),
            job: job
        )
        do { try database.place(placement) } catch { throw SiteServerError(error.description, kind: .internalError) }
        // Older versions go once the database names the new one; a reader that opened one keeps its bytes.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        where name.hasSuffix(".bin") && !name.hasPrefix(".") && name != target.lastPathComponent {
            unlink(folder.appendingPathComponent(name).path)
        }
        return PackagePlacement(placement, site: folders.site)
    }

    public func placement(_ package: String) -> PackagePlacement? {
        (try? database.placement(of: package)).flatMap { $0 }.map { PackagePlacement($0, site: folders.site) }
    }

    public func placements() -> [PackagePlacement] {
        ((try? database.placements()) ?? []).map { PackagePlacement($0, site: folders.site) }
    }
}

/// What a management point of a site offers, from that site's database only (docs/roaming-and-content.md, step 3):
/// the distribution points of the site and of the sites below it that hold the version the site knows as current —
/// its own, or the newest a site below reported. A site without a database (no site server has run there) answers
/// from the hierarchy file, as the offline planner does.
public struct SiteContentKnowledge: Sendable {
    public let hierarchy: Hierarchy
    /// The folder holding a site's site-server folder.
    public let siteRoot: @Sendable (SiteCode) -> URL

    public init(hierarchy: Hierarchy, siteRoot: @escaping @Sendable (SiteCode) -> URL) {
        self.hierarchy = hierarchy
        self.siteRoot = siteRoot
    }

    public init(hierarchy: Hierarchy, sitesDirectory: URL) {
        self.init(hierarchy: hierarchy, siteRoot: { _ in sitesDirectory })
    }

    /// The version a site knows as current for a package: of its own and those the sites below reported, the one
    /// its source created last (the creation time the source signed, which a reporting site cannot change); its
    /// own on a tie.
    public static func currentVersion(own: (version: String, created: Date)?, reports: [PackageStatus]) -> String? {
        let newest = reports.max { $0.versionTime < $1.versionTime }
        guard let own else { return newest?.version }
        guard let newest, newest.versionTime > own.created else { return own.version }
        return newest.version
    }

    /// The distribution point hosts that site `site`'s database says hold the current version of the package.
    public func holders(at site: SiteCode, of packageID: String) -> Set<String> {
        guard let package = hierarchy.package(ASCII.uppercased(packageID)) else {
            return []
        }
        let folders = SiteFolders(site: site, sitesDirectory: siteRoot(site))
        guard let database = try? folders.openDatabase(readOnly: true) else {
            return Set(package.distributionPoints)
        }
        return Self.current(package.id, in: database).holders
    }

    /// The version a site's database knows as current for a package, and the distribution points (its own and
    /// those the sites below reported) that hold it.
    public static func current(_ package: String, in database: SiteDatabase) -> (version: String?, holders: Set<String>)
    {
        let own = (try? database.placement(of: package)) ?? nil
        let reports = (try? database.statuses(package: package)) ?? []
        guard let current = currentVersion(own: own.map { ($0.version, $0.created) }, reports: reports) else {
            return (nil, [])
        }
        var holders = Set(own?.version == current ? own?.distributionPoints ?? [] : [])
        for report in reports where report.version == current { holders.formUnion(report.distributionPoints) }
        return (current, holders)
    }
}
