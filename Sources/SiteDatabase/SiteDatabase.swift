public import Foundation
import GRDB
public import SiteModel

/// What one site knows of content, in its own SQLite database (`<site folder>/site.sqlite`, WAL mode): the versions
/// placed on its own distribution points, and the package status its child sites sent up. Nothing else: a site
/// never reads another site's database or folders.
///
/// The site server writes; anything else (a management point, `siteloc site status`) may read at the same time,
/// read-only. Calls block their thread while SQLite works: use them from the site server's blocking threads or from
/// synchronous commands, not from Swift's cooperative threads.
public final class SiteDatabase: Sendable {
    /// The file inside a site's folder.
    public static let fileName = "site.sqlite"

    private let pool: DatabasePool

    /// Opens (and for a writer creates and migrates) the database at `url`.
    public init(url: URL, readOnly: Bool = false) throws(SiteDatabaseError) {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.label = "site database"
        // A busy database waits a little (another process's checkpoint), never forever.
        configuration.busyMode = .timeout(5)
        // In WAL mode, NORMAL survives any crash of the process (a kill at any moment loses nothing committed); only
        // a power cut may lose the last transactions, which the jobs' idempotence then repeats.
        if !readOnly {
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        }
        do {
            pool = try DatabasePool(path: url.path, configuration: configuration)
            if !readOnly { try Self.migrator.migrate(pool) }
        } catch {
            throw SiteDatabaseError("cannot open the site database \(url.path): \(error)")
        }
    }

    /// The schema, one migration per version; a database is brought to the newest when a writer opens it.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: placements and package status") { db in
            try db.execute(
                sql: """
                    CREATE TABLE placement (
                        package TEXT PRIMARY KEY NOT NULL,
                        version TEXT NOT NULL,
                        bytes INTEGER NOT NULL,
                        created INTEGER NOT NULL,
                        placedAt INTEGER NOT NULL,
                        job TEXT
                    );
                    CREATE TABLE distributionPointContent (
                        distributionPoint TEXT NOT NULL,
                        package TEXT NOT NULL REFERENCES placement(package) ON DELETE CASCADE,
                        version TEXT NOT NULL,
                        PRIMARY KEY (distributionPoint, package)
                    );
                    CREATE TABLE packageStatus (
                        site TEXT NOT NULL,
                        package TEXT NOT NULL,
                        version TEXT NOT NULL,
                        distributionPoints TEXT NOT NULL,
                        placedAt INTEGER NOT NULL,
                        receivedAt INTEGER NOT NULL,
                        PRIMARY KEY (site, package)
                    );
                    """
            )
        }
        migrator.registerMigration("v2: jobs handled here") { db in
            try db.execute(
                sql: """
                    CREATE TABLE handledJob (
                        id TEXT PRIMARY KEY NOT NULL,
                        action TEXT NOT NULL,
                        signer TEXT NOT NULL,
                        handledAt INTEGER NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v3: headers of forwarded jobs") { db in
            // A forwarded job's file is the copy that arrived, moved into the outbox; the header it goes on with
            // (re-signed by this site) waits here until it has been delivered.
            try db.execute(sql: "CREATE TABLE forwardedHeader (id TEXT PRIMARY KEY NOT NULL, header BLOB NOT NULL);")
        }
        migrator.registerMigration("v4: when the source created a reported version") { db in
            // Which version is current is decided by the creation time the package's source site signed, never by a
            // reporting site's word; statuses recorded before this knew none (NULL) and lose to any that does.
            try db.execute(sql: "ALTER TABLE packageStatus ADD COLUMN created INTEGER;")
        }
        migrator.registerMigration("v5: handled jobs by signer, and counts of what was done") { db in
            try db.execute(sql: "CREATE INDEX handledJobBySigner ON handledJob (signer, handledAt);")
            // The records of handled jobs are bounded, so what the status page counts is counted apart.
            try db.execute(sql: "CREATE TABLE jobCount (action TEXT PRIMARY KEY NOT NULL, count INTEGER NOT NULL);")
            try db.execute(sql: "INSERT INTO jobCount SELECT action, COUNT(*) FROM handledJob GROUP BY action;")
        }
        return migrator
    }

    // MARK: Jobs handled here

    /// How many handled-job records are kept per signing neighbour. The record makes a redelivery (a copy sent again
    /// after a crash) a no-op; it is not what stops a replay: a package job never takes a version backwards
    /// (`stale`) and a status never replaces a newer one, so a copy arriving after its record is gone changes
    /// nothing. Bounded, one neighbour's jobs cannot grow the database without end.
    public static let handledJobsKeptPerSigner = 1_000

    /// Records that a job was handled here (applied, forwarded, recorded); false when it already was. The job id is
    /// the idempotence key: a second copy of a job (a redelivery after a crash) is dropped by it.
    public func markHandled(
        _ id: String,
        action: String,
        signer: String,
        at date: Date = Date()
    )
        throws(SiteDatabaseError) -> Bool
    {
        try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO handledJob (id, action, signer, handledAt) VALUES (?, ?, ?, ?)",
                arguments: [id, action, signer, Self.milliseconds(date)]
            )
            guard db.changesCount > 0 else { return false }
            try Self.count(action, in: db)
            try Self.forgetOldHandledJobs(of: signer, in: db)
            return true
        }
    }

    /// Counts one job refused here (it never becomes a handled job).
    public func countRejected() throws(SiteDatabaseError) {
        try write { db in try Self.count("rejected", in: db) }
    }

    /// How many jobs were handled here by action (`applied`, `forwarded`, `recorded`, `already-held`), and how many
    /// were `rejected`, since the database was created.
    public func jobCounts() throws(SiteDatabaseError) -> [String: Int] {
        try read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT action, count FROM jobCount") {
                counts[row["action"]] = row["count"]
            }
            return counts
        }
    }

    private static func count(_ action: String, in db: Database) throws {
        try db.execute(
            sql:
                "INSERT INTO jobCount (action, count) VALUES (?, 1) ON CONFLICT (action) DO UPDATE SET count = count + 1",
            arguments: [action]
        )
    }

    /// Keeps the newest records of `signer`'s jobs, and every record of a forwarded job not yet delivered.
    private static func forgetOldHandledJobs(of signer: String, in db: Database) throws {
        try db.execute(
            sql: """
                DELETE FROM handledJob WHERE signer = ?1
                AND id NOT IN (SELECT id FROM forwardedHeader)
                AND id NOT IN (
                    SELECT id FROM handledJob WHERE signer = ?1 ORDER BY handledAt DESC, id DESC LIMIT ?2
                )
                """,
            arguments: [signer, handledJobsKeptPerSigner]
        )
    }

    /// Whether a job was handled here already.
    public func isHandled(_ id: String) throws(SiteDatabaseError) -> Bool {
        try read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM handledJob WHERE id = ?", arguments: [id]) ?? false }
    }

    /// Records a job as forwarded, with the header it goes on with; false (and nothing recorded) when it was
    /// handled here already.
    public func markForwarded(
        _ id: String,
        header: Data,
        signer: String,
        at date: Date = Date()
    ) throws(SiteDatabaseError) -> Bool {
        try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO handledJob (id, action, signer, handledAt) VALUES (?, 'forwarded', ?, ?)",
                arguments: [id, signer, Self.milliseconds(date)]
            )
            guard db.changesCount > 0 else { return false }
            try db.execute(
                sql: "INSERT OR REPLACE INTO forwardedHeader (id, header) VALUES (?, ?)",
                arguments: [id, header]
            )
            try Self.count("forwarded", in: db)
            try Self.forgetOldHandledJobs(of: signer, in: db)
            return true
        }
    }

    /// The header a forwarded job goes on with; nil once it has been delivered (or for a job not forwarded).
    public func forwardedHeader(_ id: String) throws(SiteDatabaseError) -> Data? {
        try read { db in try Data.fetchOne(db, sql: "SELECT header FROM forwardedHeader WHERE id = ?", arguments: [id])
        }
    }

    /// Forgets a forwarded job's header once the job has been delivered.
    public func removeForwardedHeader(_ id: String) throws(SiteDatabaseError) {
        try write { db in try db.execute(sql: "DELETE FROM forwardedHeader WHERE id = ?", arguments: [id]) }
    }

    /// The ids of the jobs handled here, oldest first.
    public func handledJobs() throws(SiteDatabaseError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT id FROM handledJob ORDER BY handledAt, id") }
    }

    // MARK: This site's placements

    /// Records that `placement`'s version is now on the listed distribution points of this site, replacing what was
    /// placed for the package before.
    public func place(_ placement: SitePlacement) throws(SiteDatabaseError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO placement (package, version, bytes, created, placedAt, job) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(package) DO UPDATE SET version = excluded.version, bytes = excluded.bytes,
                        created = excluded.created, placedAt = excluded.placedAt, job = excluded.job
                    """,
                arguments: [
                    placement.package, placement.version, placement.bytes, Self.milliseconds(placement.created),
                    Self.milliseconds(placement.placedAt), placement.job,
                ]
            )
            try db.execute(
                sql: "DELETE FROM distributionPointContent WHERE package = ?",
                arguments: [placement.package]
            )
            for point in placement.distributionPoints {
                try db.execute(
                    sql: "INSERT INTO distributionPointContent (distributionPoint, package, version) VALUES (?, ?, ?)",
                    arguments: [point, placement.package, placement.version]
                )
            }
        }
    }

    /// The version of a package placed here, if any.
    public func placement(of package: String) throws(SiteDatabaseError) -> SitePlacement? {
        try placements(where: "WHERE package = ?", [package]).first
    }

    /// Every package placed here, by id.
    public func placements() throws(SiteDatabaseError) -> [SitePlacement] {
        try placements(where: "", [])
    }

    private func placements(
        where clause: String,
        _ arguments: StatementArguments
    ) throws(SiteDatabaseError)
        -> [SitePlacement]
    {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM placement \(clause) ORDER BY package",
                arguments: arguments
            )
            // The distribution points of every placement read, in one query rather than one per placement.
            var points: [String: [String]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT package, distributionPoint FROM distributionPointContent
                    WHERE package IN (SELECT package FROM placement \(clause)) ORDER BY rowid
                    """,
                arguments: arguments
            ) {
                points[row["package"], default: []].append(row["distributionPoint"])
            }
            return rows.map { row in
                let package: String = row["package"]
                return SitePlacement(
                    package: package,
                    version: row["version"],
                    bytes: row["bytes"],
                    distributionPoints: points[package] ?? [],
                    created: Self.date(row["created"]),
                    placedAt: Self.date(row["placedAt"]),
                    job: row["job"]
                )
            }
        }
    }

    // MARK: Package status from below

    /// Records a site's status for a package unless a newer one is already there: a version the source created
    /// later, or the same version placed later. Returns whether it was recorded: an older status arriving late
    /// changes nothing.
    @discardableResult
    public func record(_ status: PackageStatus, receivedAt: Date = Date()) throws(SiteDatabaseError) -> Bool {
        let points: String
        do {
            points = String(decoding: try JSONEncoder().encode(status.distributionPoints), as: UTF8.self)
        } catch {
            throw SiteDatabaseError("cannot encode a package status: \(error)")
        }
        return try write { db in
            try db.execute(
                sql: """
                    INSERT INTO packageStatus (site, package, version, distributionPoints, placedAt, receivedAt, created)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(site, package) DO UPDATE SET version = excluded.version,
                        distributionPoints = excluded.distributionPoints, placedAt = excluded.placedAt,
                        receivedAt = excluded.receivedAt, created = excluded.created
                    WHERE IFNULL(excluded.created, 0) > IFNULL(packageStatus.created, 0)
                        OR (IFNULL(excluded.created, 0) = IFNULL(packageStatus.created, 0)
                            AND excluded.placedAt > packageStatus.placedAt)
                    """,
                arguments: [
                    status.site, status.package, status.version, points, Self.milliseconds(status.placedAt),
                    Self.milliseconds(receivedAt), status.created.map(Self.milliseconds),
                ]
            )
            return db.changesCount > 0
        }
    }

    /// The status every site below has reported, by package then site; one package's only with `package`.
    public func statuses(package: String? = nil) throws(SiteDatabaseError) -> [PackageStatus] {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM packageStatus \(package == nil ? "" : "WHERE package = ?") ORDER BY package, site",
                arguments: package.map { [$0] } ?? []
            )
            return rows.map { row in
                let points =
                    (row["distributionPoints"] as String).data(using: .utf8)
                    .flatMap { try? JSONDecoder().decode([String].self, from: $0) } ?? []
                return PackageStatus(
                    site: row["site"],
                    package: row["package"],
                    version: row["version"],
                    distributionPoints: points,
                    placedAt: Self.date(row["placedAt"]),
                    receivedAt: Self.date(row["receivedAt"]),
                    created: (row["created"] as Int64?).map(Self.date)
                )
            }
        }
    }

    // MARK: Plumbing

    private func read<T>(_ body: (Database) throws -> T) throws(SiteDatabaseError) -> T {
        do { return try pool.read(body) } catch { throw SiteDatabaseError("cannot read the site database: \(error)") }
    }

    private func write<T>(_ body: (Database) throws -> T) throws(SiteDatabaseError) -> T {
        do { return try pool.write(body) } catch { throw SiteDatabaseError("cannot write the site database: \(error)") }
    }

    /// Times are stored as whole milliseconds since 1970, the precision jobs carry.
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}

/// A version of a package placed on distribution points of this site.
public struct SitePlacement: Sendable, Equatable, Codable {
    public var package: String
    /// `sha256:` and the hex SHA-256 of the content.
    public var version: String
    public var bytes: Int64
    public var distributionPoints: [String]
    /// When the source site created this version (a version never goes backwards).
    public var created: Date
    public var placedAt: Date
    /// The job that brought it; nil at the source site.
    public var job: String?

    public init(
        package: String,
        version: String,
        bytes: Int64,
        distributionPoints: [String],
        created: Date,
        placedAt: Date,
        job: String?
    ) {
        self.package = package
        self.version = version
        self.bytes = bytes
        self.distributionPoints = distributionPoints
        self.created = created
        self.placedAt = placedAt
        self.job = job
    }
}

/// What a site below reported: which version of a package it placed on which of its distribution points, and when.
public struct PackageStatus: Sendable, Equatable, Codable {
    public var site: String
    public var package: String
    public var version: String
    public var distributionPoints: [String]
    public var placedAt: Date
    public var receivedAt: Date?
    /// When the package's source site created this version, as the site that recorded the status verified it
    /// from ``source``; nil in what a site was told before it verified (or in a status from an older site).
    public var created: Date?
    /// The source site's signed word for this version, which a status carries up (`VersionSource`).
    public var source: VersionSource?

    public init(
        site: String,
        package: String,
        version: String,
        distributionPoints: [String],
        placedAt: Date,
        receivedAt: Date? = nil,
        created: Date? = nil,
        source: VersionSource? = nil
    ) {
        self.site = site
        self.package = package
        self.version = version
        self.distributionPoints = distributionPoints
        self.placedAt = placedAt
        self.receivedAt = receivedAt
        self.created = created
        self.source = source
    }

    /// What decides which of two versions is current: the source's creation time, else (not verified) the
    /// placement time.
    public var versionTime: Date { created ?? placedAt }
}

/// The package's source site's signature over a version, as it signed the package job that carried it: the job's
/// id, destination, creation time, size and the origin signature. With the package, its source site and the
/// version (its SHA-256), a site rebuilds the signed statement and checks it with the source's key, so no site
/// below can name a version of its own or make one look newer (docs/site-communication.md, "Package status").
public struct VersionSource: Sendable, Equatable, Codable {
    public var job: String
    public var destination: String
    public var created: Date
    public var bytes: Int64
    public var signature: String

    public init(job: String, destination: String, created: Date, bytes: Int64, signature: String) {
        self.job = job
        self.destination = destination
        self.created = created
        self.bytes = bytes
        self.signature = signature
    }
}

/// A site database that cannot be opened, read or written, with the file and the reason.
public struct SiteDatabaseError: KindedError, Sendable {
    public let description: String
    public var kind: FailureKind { .internalError }
    public init(_ description: String) { self.description = description }
}
