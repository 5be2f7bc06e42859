public import LDAPKit
public import Logging
public import SiteDirectory
import SiteModel

/// A roaming client's questions to its forest's directory, over LDAP, with the access SiteAssembly gives it (an
/// anonymous reader today): is the schema extended, which published boundaries contain me, and which are those
/// sites' default management points.
///
/// The whole conversation is bounded by the access's connect timeout, however many URIs the forest has
/// (docs/replication.md): the
/// URIs are tried staggered, the first to connect and answer is used, and past the timeout — dead, silent, or a
/// server that stalls mid-conversation — the directory counts as unreachable and the client roams regionally.
public struct LDAPSiteDirectoryClient: SiteDirectoryClient {
    let access: DirectoryAccess
    let layout: DirectoryLayout
    let logger: Logger

    public init(access: DirectoryAccess, layout: DirectoryLayout, logger: Logger) {
        self.access = access
        self.layout = layout
        self.logger = logger
    }

    var uris: [LDAPURI] { access.uris }
    var timeout: Duration { access.connectTimeout }

    public func ask(_ client: ClientProfile, trace: @escaping @Sendable (String) -> Void) async -> DirectoryAnswer {
        let limit = timeout
        let outcome = await withTaskGroup(of: DirectoryAnswer?.self) { group in
            group.addTask { await self.converse(client, trace: trace) }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return outcome
            ?? .unreachable(
                "the directory did not answer within \(limit) (\(uris.map(\.description).joined(separator: ", ")))"
            )
    }

    /// A server that goes away mid-conversation (killed, restarted) is left for the others: the conversation
    /// starts again on the next that answers, within the same overall timeout.
    private func converse(_ client: ClientProfile, trace: @escaping @Sendable (String) -> Void) async -> DirectoryAnswer
    {
        let layout = layout
        var lost: [String] = []
        while !Task.isCancelled {
            do {
                // The whole conversation runs on the connection's thread right after the bind: one hand-off there
                // and one back, instead of one per question.
                return try await access.withSession(logger: logger) { session in
                    let others = session.attempts.filter { $0.uri != session.server }
                    trace(
                        "asked the directory at \(session.server)"
                            + (others.isEmpty ? "" : " (\(others.map(\.description).joined(separator: ", ")))")
                    )
                    do {
                        return try Self.converse(client, in: session, layout: layout, trace: trace)
                    } catch let error as LDAPError where error.code.isTransportFailure && error.code != .timeout {
                        throw ServerLost(server: session.server, error: error)
                    } catch {
                        return .unreachable("the directory at \(session.server) stopped answering: \(error)")
                    }
                }
            } catch let lostServer as ServerLost {
                trace("the directory at \(lostServer.server) went away (\(lostServer.error.code)): asking the others")
                lost.append(lostServer.server.description)
                // The same server twice means every one that answers goes away: stop.
                if Set(lost).count < lost.count { return .unreachable("the directory keeps going away: \(lost)") }
            } catch {
                return .unreachable("no directory answered: \(error)")
            }
        }
        return .unreachable("the directory did not answer within \(timeout)")
    }

    private struct ServerLost: KindedError {
        var kind: FailureKind { .serviceUnavailable }
        var description: String { "\(server) went away: \(error)" }
        var server: LDAPURI
        var error: LDAPError
    }

    private static func converse(
        _ client: ClientProfile,
        in session: LDAPSession,
        layout: DirectoryLayout,
        trace: @Sendable (String) -> Void
    ) throws -> DirectoryAnswer {
        guard try session.definesObjectClasses(SchemaInstallation.configurationManagerClasses) else {
            return .schemaNotExtended
        }
        // A client that was not told its AD site learns it from the forest's subnet objects, as Windows does.
        var learned: LearnedADSite?
        if client.adSite == nil {
            learned = try ADSiteLookup.site(of: client.address, in: layout, in: session)
            trace(
                learned.map {
                    "AD site \($0.site), from subnet object \($0.subnetDN) (the longest subnet holding the address)"
                }
                    ?? "no subnet object of the forest holds \(client.address): no AD site"
            )
        }
        let adSite = client.adSite ?? learned?.site
        let matches = try BoundaryLookup.matches(
            for: client.address,
            adSite: adSite,
            in: layout,
            in: session
        )
        trace(
            "boundaries containing \(client.address)\(adSite.map { " (AD site \($0))" } ?? ""): "
                + (matches.isEmpty
                    ? "none"
                    : matches.map { "\($0.kind.rawValue) \($0.value) of \($0.site)" }.joined(separator: ", "))
        )
        let published = try SiteSystemLookup.defaultManagementPoints(
            of: Set(matches.map(\.site)),
            in: layout,
            in: session
        )
        let residents = published.mapValues {
            ResidentManagementPoint(host: $0.host, mode: $0.https ? .native : .mixed)
        }
        return .answered(matches, residentManagementPoints: residents, learnedADSite: learned)
    }
}
