import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Whether files in a folder may have changed since a service last read them, from inotify: one instance for the
/// process, drained with non-blocking reads by whoever asks, so asking costs one system call that never waits.
///
/// A management point answers from its site's database, which the site server (in this process or another) writes.
/// Reading the database for every request was most of a request's cost; reading it only after the database's files
/// changed keeps every answer as fresh as a read: the kernel queues the event before the writer's `write` returns.
final class FolderChanges: Sendable {
    static let shared = FolderChanges()

    /// A watched folder: its generation grows whenever one of the watched names in it changes.
    struct Watch: Sendable {
        fileprivate let descriptor: Int32
        /// Tells this watch from a later one the kernel gave the same descriptor after the folder went away.
        fileprivate let serial: UInt64
    }

    /// -1 when inotify is unavailable: every question then answers "changed".
    private let descriptor: Int32
    private let state = Mutex(State())

    private struct State {
        /// By watch descriptor: the names that matter and how often they changed.
        var watches: [Int32: (names: Set<String>, generation: UInt64, serial: UInt64)] = [:]
        var serials: UInt64 = 0
        /// Bumped for every watch when the kernel's queue overflowed and events were lost.
        var overflows: UInt64 = 0
    }

    private init() {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
    }

    /// Starts watching `names` in `folder` (created, written, renamed in, deleted). Nil when it cannot be watched:
    /// the caller must then read every time.
    func watch(_ folder: String, names: Set<String>) -> Watch? {
        guard descriptor >= 0 else { return nil }
        let mask = UInt32(IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)
        return state.withLock { state -> Watch? in
            let watch = inotify_add_watch(descriptor, folder, mask | UInt32(IN_ONLYDIR))
            guard watch >= 0 else { return nil }
            if state.watches[watch] == nil {
                state.serials += 1
                state.watches[watch] = (names, 0, state.serials)
            }
            state.watches[watch]?.names.formUnion(names)
            return Watch(descriptor: watch, serial: state.watches[watch]!.serial)
        }
    }

    /// A number that differs from the last one returned for `watch` when a watched name in its folder changed in
    /// between (and possibly when nothing did, never the other way round); nil when the folder is no longer
    /// watched (it went away), and the caller must read every time.
    func generation(_ watch: Watch) -> UInt64? {
        state.withLock { state in
            drain(&state)
            guard let watched = state.watches[watch.descriptor], watched.serial == watch.serial else { return nil }
            return watched.generation &+ state.overflows
        }
    }

    /// Reads every pending event (asked on every request: the buffer is on the stack, and with nothing pending
    /// this is one `read` that returns EAGAIN).
    private func drain(_ state: inout State) {
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: MemoryLayout<inotify_event>.alignment) { buffer in
            drain(&state, into: buffer)
        }
    }

    private func drain(_ state: inout State, into buffer: UnsafeMutableRawBufferPointer) {
        guard let start = buffer.baseAddress else { return }
        while true {
            let count = read(descriptor, start, buffer.count)
            guard count > 0 else { return }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = start.load(fromByteOffset: offset, as: inotify_event.self)
                let nameStart = offset + MemoryLayout<inotify_event>.size
                let name =
                    event.len > 0
                    ? String(cString: start.advanced(by: nameStart).assumingMemoryBound(to: CChar.self)) : ""
                offset = nameStart + Int(event.len)
                if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    state.overflows &+= 1
                } else if event.mask & UInt32(IN_IGNORED) != 0 {
                    state.watches[event.wd] = nil
                } else if let watched = state.watches[event.wd], watched.names.contains(name) {
                    state.watches[event.wd]?.generation &+= 1
                }
            }
        }
    }
}
