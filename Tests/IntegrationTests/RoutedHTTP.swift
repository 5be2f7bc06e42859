import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SiteAssembly
import SiteModel
import SiteServices
import Testing

/// Requests to one site system's routes without a socket (Hummingbird's router testing): for what a management
/// point or distribution point answers, where the connection is not the point. What concerns connections — limits,
/// slow peers, TLS, real download clients — goes over sockets (`RawHTTP`, `ServicesFixture.serving`).
extension ServicesFixture {
    /// `method path` with `headers` ("Name: value" lines joined by CRLF, as a raw request has them) to `host`'s
    /// routes; the answer with lower-case header names.
    func routed(
        _ host: String,
        _ method: String = "GET",
        _ path: String,
        headers: String = "",
        body: String = ""
    ) async throws -> RawHTTP.Answer {
        let site = try #require(hierarchy.sites.first { $0.systems.contains { $0.host == host } })
        let system = try #require(site.systems.first { $0.host == host })
        let router = SiteSystemServer.router(
            system: system,
            site: site,
            hierarchy: hierarchy,
            folders: deployment.folders(of: site.code),
            systemURLs: deployment.systemURLs
        )
        var fields = HTTPFields()
        fields[HTTPField.Name("Host")!] = host
        for line in headers.split(separator: "\r\n") where !line.isEmpty {
            let parts = line.split(separator: ":", maxSplits: 1)
            let name = try #require(HTTPField.Name(String(parts[0])))
            fields.append(
                HTTPField(name: name, value: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
            )
        }
        if !body.isEmpty { fields[.contentType] = "application/json" }
        let request = (method: HTTPRequest.Method(method)!, fields: fields, body: body)
        return try await Application(router: router).test(.router) { client in
            try await client.execute(
                uri: path,
                method: request.method,
                headers: request.fields,
                body: request.body.isEmpty ? nil : ByteBuffer(string: request.body)
            ) { response in
                var headers: [String: String] = [:]
                for field in response.headers { headers[field.name.canonicalName] = field.value }
                let body = Data(response.body.readableBytesView)
                return RawHTTP.Answer(status: response.status.code, headers: headers, body: body)
            }
        }
    }
}
