import BlockingWork
import Foundation
import Logging
import SiteDatabase
import SiteModel
import SiteRouting
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension SiteServer {
    // MARK: Verification

    /// Checks the hop (neighbour, signature, payload) and the origin (docs/site-communication.md, "Origin
    /// authenticity"). Returns whether the origin's signature is known to be good: checked here, or vouched for by
    /// the neighbour that signed this copy.
    func verify(_ job: JobFile) async throws(JobRejection) -> Bool {
        let header = job.header
        let signer = header.signer
        guard let sender = settings.hierarchy.site(signer) else {
            throw JobRejection(.notNeighbour, "comes from \(signer), which is not a site of the hierarchy")
        }
        guard settings.hierarchy.areNeighbours(sender.code, site.code) else {
            throw JobRejection(
                .notNeighbour,
                "comes from \(signer), which is neither the parent nor a child of \(site.code);"
                    + " sites talk only to their neighbours"
            )
        }
        guard settings.hierarchy.site(header.destination) != nil else {
            throw JobRejection(
                .unknownDestination,
                "is for \(header.destination), which is not a site of the hierarchy"
            )
        }
        guard let package = settings.hierarchy.package(header.package) else {
            throw JobRejection(
                .unknownPackage,
                "carries package \(header.package), which the hierarchy does not list"
            )
        }
        if job.signature == nil, !settings.secureKeyExchange {
            logger.warning("accepting an unsigned job: secure key exchange is off", metadata: ["job": "\(header.id)"])
            try job.verifyPayload()
            return try await verifyOrigin(header, package: package, from: sender) || header.originVerified
        }
        guard job.signature != nil else {
            throw JobRejection(.unsigned, "is not signed; secure key exchange requires every job to be signed")
        }
        guard let key = await siteKey(of: signer) else {
            throw JobRejection(
                .unknownKey,
                "is signed by \(signer), whose key this site does not hold: "
                    + (sender.forest == site.forest
                        ? "publish \(signer) with its key (siteloc site init, then siteloc publish) or import it"
                        : "\(signer) is in another forest; exchange keys with siteloc keys export / siteloc keys import")
            )
        }
        var signerKey = key
        do {
            try job.verify(with: key)
        } catch {
            guard error.code == .badSignature, let fresh = await siteKey(of: signer, refresh: true), fresh != key else {
                throw error
            }
            try job.verify(with: fresh)
            signerKey = fresh
        }
        let verifiedHere = try await verifyOrigin(header, package: package, from: sender, signerKey: signerKey)
        // The neighbour's word counts only because its own signature, just verified, covers it.
        let verified = verifiedHere || header.originVerified
        // The destination uses what it receives, and so does every site a status passes: each records it.
        if header.destination == site.code || header.kind == .status, !verified {
            throw JobRejection(
                .badOrigin,
                "says it comes from \(header.origin), whose key this site does not hold, and \(signer) did not vouch"
                    + " for its origin signature; import \(header.origin)'s key with siteloc keys import"
            )
        }
        return verified
    }

    /// The origin rules: a package comes from its source site, through a neighbour on the way from there, signed
    /// by the origin. Returns whether the origin signature was checked here (false when the origin's key cannot be
    /// had here).
    /// `signerKey`, the key that just verified the hop, serves when the origin handed the job over itself (every
    /// first hop), so the key is not looked up twice.
    func verifyOrigin(
        _ header: JobHeader,
        package: Package,
        from sender: Site,
        signerKey: SitePublicKey? = nil
    ) async throws(JobRejection) -> Bool {
        let origin = header.origin
        switch header.kind {
        case .package:
            guard origin == package.sourceSite else {
                throw JobRejection(
                    .badOrigin,
                    "says it comes from \(origin), but package \(package.id) comes only from its source site"
                        + " \(package.sourceSite)"
                )
            }
        case .status:
            guard sender.parent == site.code else {
                throw JobRejection(
                    .badOrigin,
                    "is a package status that came down from \(sender.code); a status travels only up the hierarchy"
                )
            }
        }
        let hierarchy = settings.hierarchy
        if sender.parent == site.code {
            guard hierarchy.isInSubtree(origin, of: sender.code) else {
                throw JobRejection(
                    .badOrigin,
                    "came up from \(sender.code) but says it comes from \(origin), which is not below \(sender.code)"
                )
            }
        } else if hierarchy.isInSubtree(origin, of: site.code) {
            throw JobRejection(
                .badOrigin,
                "came down from \(sender.code) but says it comes from \(origin), which is this site or below it"
            )
        }
        var key = origin == header.signer ? signerKey : nil
        if key == nil { key = await siteKey(of: origin) }
        guard let key else { return false }
        guard header.hasValidOriginSignature(key) else {
            if let fresh = await siteKey(of: origin, refresh: true), fresh != key, header.hasValidOriginSignature(fresh)
            {
                return true
            }
            throw JobRejection(
                .badOrigin,
                "carries an origin signature that \(origin)'s key (\(key.fingerprint)) does not verify:"
                    + (header.originSignature == nil ? " it has none" : " not signed by \(origin), or changed since")
            )
        }
        return true
    }

    /// A site's key: from the directory when the site is in this site's forest, else (or when the directory has
    /// none, e.g. a site that does not publish) from a key file imported by hand.
    /// `refresh` skips the cache: for a signature the cached key does not verify (the site may have a new key).
    func siteKey(of other: SiteCode, refresh: Bool = false) async -> SitePublicKey? {
        if settings.hierarchy.site(other)?.forest == site.forest, let lookup = settings.directoryKey {
            if !refresh, let cached = directoryKeyCache.withLock({ $0[other] }) { return cached }
            let missedRecently = directoryKeyMisses.withLock { misses in
                misses[other].map { ContinuousClock.now - $0 < Self.directoryMissLifetime } ?? false
            }
            if !missedRecently {
                switch await lookup(other) {
                case .key(let key):
                    directoryKeyCache.withLock { $0[other] = key }
                    return key
                case .absent:
                    break
                case .unreachable:
                    if !Task.isCancelled { directoryKeyMisses.withLock { $0[other] = .now } }
                }
            }
        }
        return folders.importedKey(of: other)
    }

    /// When the package's source site created the version a status names, from the source's own signature.
    func verifiedCreation(of status: PackageStatus) async throws(JobRejection) -> Date {
        guard let package = settings.hierarchy.package(status.package),
            let header = PackageStatusJob.sourceHeader(of: status, from: package.sourceSite)
        else {
            throw JobRejection(
                .badOrigin,
                "has a status of \(status.package) without its source site's signed word for the version"
            )
        }
        let sourceKey = package.sourceSite == site.code ? key.publicKey : await siteKey(of: package.sourceSite)
        guard let sourceKey else {
            if !settings.secureKeyExchange {
                logger.warning(
                    "accepting a status whose version cannot be checked: secure key exchange is off",
                    metadata: ["package": "\(package.id)", "site": "\(status.site)"]
                )
                return header.created
            }
            throw JobRejection(
                .unknownKey,
                "reports a version of \(package.id), whose source site \(package.sourceSite)'s key this site does not"
                    + " hold to check it; import it with siteloc keys import"
            )
        }
        guard header.hasValidOriginSignature(sourceKey) else {
            throw JobRejection(
                .badOrigin,
                "reports version \(status.version.prefix(19))… of \(package.id), which \(package.sourceSite) did not"
                    + " sign: a site below says where a version is, never which one"
            )
        }
        let skew: TimeInterval = 300
        guard status.placedAt.timeIntervalSinceNow <= skew, status.placedAt >= header.created.addingTimeInterval(-skew)
        else {
            throw JobRejection(
                .badOrigin,
                "says it placed \(package.id) at \(RecordCoding.string(status.placedAt)), which is in the future or"
                    + " before \(package.sourceSite) created the version (\(RecordCoding.string(header.created)))"
            )
        }
        return header.created
    }
}
