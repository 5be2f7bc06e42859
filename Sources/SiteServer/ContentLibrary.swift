public import Foundation
public import SiteModel

/// Where a package's content has been placed at a site: on which of the site's distribution points.
public struct PackagePlacement: Codable, Sendable, Equatable {
    public var package: String
    public var site: String
    public var distributionPoints: [String]
    public var job: String?
    public var bytes: Int64
    public var sha256: String
    /// When the source site created this version (the job's `created`): a version never goes backwards.
    public var created: Date?
    public var placed: Date
}

/// A site's content library: the packages it holds and the distribution points they are placed on.
public struct ContentLibrary: Sendable {
    public let folders: SiteFolders

    public init(folders: SiteFolders) { self.folders = folders }

    public func contentFile(_ package: String) -> URL {
        folders.package(package).appendingPathComponent("package.bin")
    }

    func placementFile(_ package: String) -> URL {
        folders.package(package).appendingPathComponent("placement.json")
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
        let target = contentFile(package.id)
        let temporary = AtomicFile.temporary(for: target)
        let digest: String
        let bytes: Int64
        do {
            let output = try RegularFile.createForWriting(temporary)
            defer { try? output.close() }
            (digest, bytes) = try JobFile.stream(source, from: offset, into: output)
            try output.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SiteServerError("cannot store package \(package.id) in \(folder.path): \(error)")
        }
        guard rename(temporary.path, target.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw SiteServerError("cannot store package \(package.id) in \(folder.path)")
        }
        let ownPoints = Set(
            hierarchy.site(folders.site)?.systems.filter { $0.roles.contains(.distributionPoint) }.map(\.host) ?? []
        )
        let placement = PackagePlacement(
            package: package.id,
            site: folders.site.rawValue,
            distributionPoints: package.distributionPoints.filter { ownPoints.contains($0) },
            job: job,
            bytes: bytes,
            sha256: digest,
            created: JobHeader.wholeMilliseconds(created),
            placed: now
        )
        guard let data = try? RecordCoding.encoder(pretty: true).encode(placement) else {
            throw SiteServerError("cannot encode placement")
        }
        try AtomicFile.write(placementFile(package.id), contents: data)
        return placement
    }

    public func placement(_ package: String) -> PackagePlacement? {
        guard let handle = try? RegularFile.openForReading(placementFile(package)),
            let data = try? handle.readToEnd()
        else { return nil }
        return try? RecordCoding.decoder().decode(PackagePlacement.self, from: data)
    }

    public func placements() -> [PackagePlacement] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folders.content.path)) ?? []
        return names.sorted().compactMap(placement)
    }
}

/// Which distribution points hold a package, as site servers have placed it: the management points' view once
/// site servers run. A site that has no site server folder yet answers from the hierarchy file, as before.
public struct PlacedContent: Sendable {
    public let hierarchy: Hierarchy
    public let sitesDirectory: URL

    public init(hierarchy: Hierarchy, sitesDirectory: URL) {
        self.hierarchy = hierarchy
        self.sitesDirectory = sitesDirectory
    }

    public func holders(of packageID: String) -> Set<String> {
        guard let package = hierarchy.packages.first(where: { $0.id.uppercased() == packageID.uppercased() }) else {
            return []
        }
        var holders: Set<String> = []
        for site in hierarchy.sites {
            let folders = SiteFolders(site: site.code, sitesDirectory: sitesDirectory)
            let points = site.systems.filter { $0.roles.contains(.distributionPoint) }.map(\.host)
            if folders.isInitialized {
                holders.formUnion(ContentLibrary(folders: folders).placement(package.id)?.distributionPoints ?? [])
            } else {
                holders.formUnion(package.distributionPoints.filter { points.contains($0) })
            }
        }
        return holders
    }
}
