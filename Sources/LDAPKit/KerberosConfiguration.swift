import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The krb5.conf this process's Kerberos uses. MIT Kerberos reads `KRB5_CONFIG` from the environment whenever it
/// makes a context, so the setting is process-wide: the first file given is kept, before any Kerberos call of
/// siteloc's, and a later different one is ignored with the first still in force (a process works with one lab).
public enum KerberosConfiguration {
    private static let chosen = Mutex<String?>(nil)

    /// Uses `file` unless another was chosen first; returns the file in use.
    @discardableResult
    public static func use(_ file: String) -> String {
        chosen.withLock { current in
            if let current { return current }
            setenv("KRB5_CONFIG", file, 1)
            current = file
            return file
        }
    }
}
