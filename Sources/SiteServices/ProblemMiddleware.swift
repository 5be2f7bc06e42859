import HTTPTypes
import Hummingbird
import SiteLocation

/// Every error a site system answers is a problem document (`application/problem+json`), including what the router
/// itself refuses: a path no service has is 404, a method a path does not take is 405 with `Allow`.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = SiteRequestContext

    /// The methods each served path takes, by the path's pattern (a `*` component matches one component).
    let methods: [(pattern: [Substring], allowed: [HTTPRequest.Method])]

    // @concurrent: Hummingbird's protocol is compiled without nonisolated(nonsending) as the default.
    @concurrent func handle(
        _ request: Request,
        context: SiteRequestContext,
        next: @concurrent (Request, SiteRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let components = request.uri.path.split(separator: "/")
            if let allowed = methods.first(where: { Self.matches($0.pattern, components) })?.allowed,
                !allowed.contains(request.method)
            {
                var response = Problems.response(
                    ServiceProblem(
                        status: 405,
                        title: "Method Not Allowed",
                        detail: "\(request.uri.path) takes \(allowed.map(\.rawValue).joined(separator: ", "))"
                    )
                )
                response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return response
            }
            let status = Int(error.status.code)
            return Problems.response(
                ServiceProblem(
                    status: status,
                    title: error.status.reasonPhrase,
                    detail: status == 404 ? "nothing is served at this path" : "the request cannot be served"
                )
            )
        }
    }

    static func matches(_ pattern: [Substring], _ components: [Substring]) -> Bool {
        pattern.count == components.count && zip(pattern, components).allSatisfy { $0 == "*" || $0 == $1 }
    }
}
