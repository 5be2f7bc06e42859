import BlockingWork
import Foundation
import SiteDatabase
import SiteServer
import Synchronization

/// What a service read from its site's database for each package (a management point: the current version and the
/// distribution points holding it; a distribution point: the version's file, open), kept until the database's
/// files change (``FolderChanges``). A request that finds the database changed reads again, on a blocking thread.
final class SiteDatabaseCache<Value: Sendable>: Sendable {
    private let watch: FolderChanges.Watch?
    private let kept = Mutex<(generation: UInt64, packages: [String: Value])>((0, [:]))

    init(folders: SiteFolders) {
        // Watched before anything is read: a change between the first read and the watch would go unseen.
        let file = SiteDatabase.fileName
        watch = FolderChanges.shared.watch(folders.root.path, names: [file, file + "-wal", file + "-journal"])
    }

    /// The package's value, and the generation of the database's files it was read under (nil when changes cannot
    /// be watched: then every call reads).
    func value(
        _ package: String,
        read: @escaping @Sendable () throws -> Value
    ) async throws -> (value: Value, generation: UInt64?) {
        let generation = watch.flatMap { FolderChanges.shared.generation($0) }
        if let generation {
            let hit = kept.withLock { kept -> Value? in
                if kept.generation != generation { kept = (generation, [:]) }
                return kept.packages[package]
            }
            if let hit { return (hit, generation) }
        }
        let value = try await withBlockingWork { try read() }
        // Kept under the generation seen before reading: a change during the read makes the next request read again.
        if let generation {
            kept.withLock { kept in
                if kept.generation == generation { kept.packages[package] = value }
            }
        }
        return (value, generation)
    }
}
