import BlockingWork
import Foundation
import SiteDatabase
import SiteServer
import Synchronization

/// What a management point's site database says of each package (the current version and the distribution points
/// that hold it), read once and kept until the database's files change (``FolderChanges``). A request that finds
/// the database changed reads it again, on a blocking thread.
final class ContentKnowledgeCache: Sendable {
    typealias Knowledge = (version: String?, holders: Set<String>)

    private let database: SiteDatabaseReader
    private let watch: FolderChanges.Watch?
    private let kept = Mutex<(generation: UInt64, packages: [String: Knowledge])>((0, [:]))

    init(database: SiteDatabaseReader, folders: SiteFolders) {
        self.database = database
        // Watched before anything is read: a change between the first read and the watch would go unseen.
        let file = SiteDatabase.fileName
        watch = FolderChanges.shared.watch(
            folders.root.path,
            names: [file, file + "-wal", file + "-journal"]
        )
    }

    /// The package's knowledge, and the generation of the database's files it was read under (nil when changes
    /// cannot be watched).
    func current(_ package: String) async -> (knowledge: Knowledge, generation: UInt64?) {
        let generation = watch.flatMap { FolderChanges.shared.generation($0) }
        if let generation {
            let hit = kept.withLock { kept -> Knowledge? in
                if kept.generation != generation { kept = (generation, [:]) }
                return kept.packages[package]
            }
            if let hit { return (hit, generation) }
        }
        let database = database
        let knowledge = await withBlockingWork { () -> Knowledge in
            guard let opened = database.get() else { return (nil, []) }
            return SiteContentKnowledge.current(package, in: opened)
        }
        // Kept under the generation seen before reading: a change during the read makes the next request read again.
        if let generation {
            kept.withLock { kept in
                if kept.generation == generation { kept.packages[package] = knowledge }
            }
        }
        return (knowledge, generation)
    }
}
