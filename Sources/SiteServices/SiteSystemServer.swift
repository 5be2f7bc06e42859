import Foundation
import HTTPTypes
package import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
import NIOSSL
public import ServiceLifecycle
public import SiteModel
public import SiteServer

/// The HTTP services of one site-system host (in the spirit of Hummingbird's `buildApplication`): its management
/// point and distribution point roles on one listener. `onListening` receives the port it is bound to (ask for
/// port 0 to get a free one).
public struct SiteSystemServer: Service {
    public let system: SiteSystem
    public let site: Site
    let application: Application<RouterResponder<SiteRequestContext>>

    public init(
        system: SiteSystem,
        site: Site,
        hierarchy: Hierarchy,
        folders: SiteFolders,
        systemURLs: @escaping SystemURLs,
        address: String = "127.0.0.1",
        port: Int = 0,
        tls identity: TLSIdentity? = nil,
        metrics: MetricsExposition? = nil,
        limits: ServiceLimits = ServiceLimits(),
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        self.system = system
        self.site = site
        let router = Self.router(
            system: system,
            site: site,
            hierarchy: hierarchy,
            folders: folders,
            systemURLs: systemURLs,
            metrics: metrics,
            limits: limits
        )
        let counts = ConnectionCounts()
        let http1 = HTTPServerBuilder.http1(
            configuration: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits, counts: counts)])
        )
        application = Application(
            router: router,
            server: try identity.map { try .tls(http1, tlsConfiguration: try Self.tlsConfiguration($0)) } ?? http1,
            configuration: ApplicationConfiguration(
                address: .hostname(address, port: port),
                serverName: "siteloc \(system.host)",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.connectionsPerListener)
            ),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    /// The routes of the host's roles, without a listener: what `init` serves, and what tests drive directly where
    /// the socket is not the point (Hummingbird's router testing).
    package static func router(
        system: SiteSystem,
        site: Site,
        hierarchy: Hierarchy,
        folders: SiteFolders,
        systemURLs: @escaping SystemURLs,
        metrics: MetricsExposition? = nil,
        limits: ServiceLimits = ServiceLimits()
    ) -> Router<SiteRequestContext> {
        let router = Router(context: SiteRequestContext.self)
        var methods: [(pattern: [Substring], allowed: [HTTPRequest.Method])] = []
        if system.roles.contains(.managementPoint) {
            methods += [
                (["SMS_MP", ".sms_aut"], [.get, .head]), (["siteloc", "v1", "site"], [.get, .head]),
                (["siteloc", "v1", "advertisements", "*"], [.get, .head]),
                (["siteloc", "v1", "content-location"], [.post]), (["siteloc", "status"], [.get, .head]),
                (["siteloc", "v1", "status"], [.get, .head]),
            ]
        }
        if system.roles.contains(.distributionPoint) {
            let content: [HTTPRequest.Method] = [.options, .get, .head, DistributionPointService.propfindMethod]
            methods += [(["SMS_DP_SMSPKG$", "*"], content), (["SMS_DP_SMSPKG$", "*", "content"], content)]
        }
        methods.append((["siteloc", "v1", "health"], [.get, .head]))
        if metrics != nil { methods.append((["metrics"], [.get, .head])) }
        router.add(middleware: ProblemMiddleware(methods: methods))
        // Whether the host answers at all: a fixed answer, also the ceiling the benchmarks compare routes with.
        let health = ByteBuffer(string: #"{"host":"\#(system.host)","status":"ok"}"#)
        router.get("/siteloc/v1/health") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: health))
        }
        if let metrics {
            // Prometheus's text exposition format, version 0.0.4.
            router.get("/metrics") { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render()))
                )
            }
        }
        if system.roles.contains(.managementPoint) {
            ManagementPointService(
                host: system.host,
                site: site,
                hierarchy: hierarchy,
                folders: folders,
                systemURLs: systemURLs
            ).addRoutes(to: router)
            StatusService(hierarchy: hierarchy, folders: folders).addRoutes(to: router)
        }
        if system.roles.contains(.distributionPoint) {
            DistributionPointService(host: system.host, folders: folders, limits: limits).addRoutes(to: router)
        }
        return router
    }

    /// HTTPS for a native-mode site's system: the host's certificate, and a client certificate from the same
    /// authority required of every client (mutual TLS).
    static func tlsConfiguration(_ identity: TLSIdentity) throws -> TLSConfiguration {
        let certificate = try NIOSSLCertificate(bytes: Array(identity.certificatePEM.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)
        let authority = try NIOSSLCertificate(bytes: Array(identity.authorityPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate)],
            privateKey: .privateKey(key)
        )
        configuration.trustRoots = .certificates([authority])
        // The client's certificate chain is verified and required; a client has no host name to check.
        configuration.certificateVerification = .noHostnameVerification
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// Whether a system has a role served over HTTP.
    public static func serves(_ system: SiteSystem) -> Bool {
        system.roles.contains(.managementPoint) || system.roles.contains(.distributionPoint)
    }

    /// Runs until the enclosing service group shuts down gracefully. `Application.run`, not `runService`, which
    /// would set up a service group of its own with its own signal handlers and end on SIGTERM before the
    /// enclosing group had begun to shut down ("a service has finished unexpectedly").
    public func run() async throws {
        try await application.run()
    }
}
