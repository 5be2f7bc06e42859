public import LDAPKit

/// Applies changes with many in flight on one connection. Changes to different entries do not depend on each
/// other, so their order does not matter; each one is atomic in the directory.
public enum ChangeApplier {
    /// Applies every change, keeping up to `window` in flight; throws the first failure after the others finish.
    public static func apply(
        _ changes: [DirectoryChange],
        on connection: LDAPConnection,
        window: Int = 64,
        progress: (@Sendable (Int) -> Void)? = nil
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            var done = 0
            func submit() {
                let change = changes[next]
                next += 1
                group.addTask {
                    switch change {
                    case .add(let entry): try await connection.add(entry.dn, attributes: entry.attributes)
                    case .modify(let dn, let modifications): try await connection.modify(dn, modifications)
                    case .delete(let dn): try await connection.delete(dn)
                    }
                }
            }
            for _ in 0..<min(window, changes.count) { submit() }
            while try await group.next() != nil {
                done += 1
                progress?(done)
                if next < changes.count { submit() }
            }
        }
    }
}
