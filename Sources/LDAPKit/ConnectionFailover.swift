extension LDAPConnection {
    /// Runs `work` on a connection from `connect` and, when its server goes away mid-way (the connection drops or
    /// a new one cannot be made), runs it again on a fresh connection, which reaches the next replica that
    /// answers: up to `attempts` times in all. Only for work that is safe to repeat, such as applying a diff
    /// planned on that same connection (docs/replication.md, "Writes"). A server that is slow rather than gone is
    /// not retried: it would only cost its timeout again. The connection is closed whatever `work` does.
    public static func withFailover<T>(
        attempts: Int = 3,
        connect: () async throws -> LDAPConnection,
        _ work: (LDAPConnection) async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            let connection = try await connect()
            do {
                let result = try await work(connection)
                await connection.close()
                return result
            } catch let error as LDAPError
                where [.serverDown, .connectError].contains(error.code) && attempt < attempts
            {
                await connection.close()
                attempt += 1
            } catch {
                await connection.close()
                throw error
            }
        }
    }
}
