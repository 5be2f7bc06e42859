import Foundation
import Testing
import Yams

/// The OpenAPI document (docs/openapi/management-point.yaml) and the services stay equal: every path and method
/// it lists is served, and live answers have exactly the fields its schemas give, of their types.
@Suite(.timeLimit(.minutes(2))) struct ServiceDocument {
    static func document() throws -> [String: Any] {
        let file = ContentServices.repository.appendingPathComponent("docs/openapi/management-point.yaml")
        return try #require(try Yams.load(yaml: String(contentsOf: file, encoding: .utf8)) as? [String: Any])
    }

    /// Problems with `value` against `schema` (an OpenAPI 3.0 subset: $ref, object, array, string with enum,
    /// integer, boolean); empty when it conforms. An object may have no field the schema does not list.
    static func problems(_ value: Any, _ schema: [String: Any], _ document: [String: Any], at path: String) -> [String]
    {
        if let reference = schema["$ref"] as? String {
            let name = String(reference.split(separator: "/").last ?? "")
            let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
            guard let target = schemas?[name] as? [String: Any] else { return ["\(path): no schema \(name)"] }
            return problems(value, target, document, at: path)
        }
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): not an object"] }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            var found: [String] = []
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                found.append("\(path).\(key): missing")
            }
            for (key, field) in object {
                guard let property = properties[key] as? [String: Any] else {
                    found.append("\(path).\(key): not in the document")
                    continue
                }
                found += problems(field, property, document, at: "\(path).\(key)")
            }
            return found
        case "array":
            guard let array = value as? [Any] else { return ["\(path): not an array"] }
            let items = schema["items"] as? [String: Any] ?? [:]
            return array.enumerated().flatMap { problems($1, items, document, at: "\(path)[\($0)]") }
        case "string":
            guard let text = value as? String else { return ["\(path): not a string"] }
            if let options = schema["enum"] as? [String], !options.contains(text) {
                return ["\(path): \(text) is not one of \(options)"]
            }
            return []
        case "integer":
            return value is Int ? [] : ["\(path): not an integer"]
        case "boolean":
            return value is Bool ? [] : ["\(path): not a boolean"]
        default:
            return []
        }
    }

    static func schema(
        _ document: [String: Any],
        _ path: String,
        _ method: String,
        _ status: String
    ) throws
        -> [String: Any]
    {
        let operation = try #require(
            ((document["paths"] as? [String: Any])?[path] as? [String: Any])?[method] as? [String: Any]
        )
        var response = try #require((operation["responses"] as? [String: Any])?[status] as? [String: Any])
        if let reference = response["$ref"] as? String {
            let name = String(reference.split(separator: "/").last ?? "")
            response = try #require(
                ((document["components"] as? [String: Any])?["responses"] as? [String: Any])?[name] as? [String: Any]
            )
        }
        let content = try #require(response["content"] as? [String: Any])
        let media = try #require(content.values.first as? [String: Any])
        return try #require(media["schema"] as? [String: Any])
    }

    @Test func everyAnswerHasTheFieldsTheDocumentGives() async throws {
        let document = try Self.document()
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        try fixture.placeEverything()
        try await fixture.serving {
            let mp = "p01-mp.corp.contoso.com"
            func get(_ path: String) async throws -> RawHTTP.Answer {
                try await RawHTTP.send(
                    port: try #require(try fixture.url(mp).port),
                    "GET \(path) HTTP/1.1\r\nHost: \(mp)\r\nConnection: close\r\n\r\n"
                )
            }
            let checks: [(RawHTTP.Answer, String, String, String)] = [
                (try await get("/siteloc/v1/site"), "/siteloc/v1/site", "get", "200"),
                (try await get("/siteloc/v1/health"), "/siteloc/v1/health", "get", "200"),
                (try await get("/siteloc/v1/status"), "/siteloc/v1/status", "get", "200"),
                (
                    try await get("/siteloc/v1/advertisements/CEN20002"), "/siteloc/v1/advertisements/{id}", "get",
                    "200"
                ),
                (
                    try await get("/siteloc/v1/advertisements/XXX00000"), "/siteloc/v1/advertisements/{id}", "get",
                    "404"
                ),
                (
                    try await fixture.ask(mp, #"{"package":"CEN00001","address":"10.21.1.9/24","clientMode":"mixed"}"#),
                    "/siteloc/v1/content-location", "post", "200"
                ),
                (try await fixture.ask(mp, "{}"), "/siteloc/v1/content-location", "post", "400"),
                (
                    try await fixture.ask(mp, #"{"package":"ZZZ00001","address":"10.0.0.1/8","clientMode":"mixed"}"#),
                    "/siteloc/v1/content-location", "post", "404"
                ),
            ]
            for (answer, path, method, status) in checks {
                #expect(String(answer.status) == status, "\(method) \(path)")
                let value = try JSONSerialization.jsonObject(with: answer.body)
                let found = Self.problems(value, try Self.schema(document, path, method, status), document, at: "$")
                #expect(found.isEmpty, "\(method) \(path) \(status): \(found)")
            }
            // The MPLIST and the DP's paths answer as listed.
            #expect(try await get("/SMS_MP/.sms_aut?MPLIST").status == 200)
            #expect(try await get("/siteloc/status").status == 200)
            #expect(try await get("/metrics").status == 200)
            let dp = try #require(try fixture.url("p01-dp.corp.contoso.com").port)
            for method in ["GET", "HEAD"] {
                let answer = try await RawHTTP.send(
                    port: dp,
                    "\(method) /SMS_DP_SMSPKG$/CEN00001/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                #expect(answer.status == 200, "\(method)")
            }
            let paths = try #require(document["paths"] as? [String: Any])
            #expect(
                Set(paths.keys) == [
                    "/SMS_MP/.sms_aut", "/siteloc/v1/site", "/siteloc/v1/health", "/siteloc/v1/advertisements/{id}",
                    "/siteloc/v1/content-location", "/SMS_DP_SMSPKG$/{package}/", "/siteloc/status",
                    "/siteloc/v1/status", "/metrics",
                ]
            )
        }
    }

    /// A check of the checker: it must be able to fail.
    @Test func theCheckerFindsAFieldTheDocumentDoesNotGive() throws {
        let document = try Self.document()
        let schema = ["$ref": "#/components/schemas/SiteIdentity"]
        let extra: [String: Any] = [
            "site": "P01", "mode": "mixed", "managementPoint": "x", "managementPoints": [], "secret": 1,
        ]
        #expect(Self.problems(extra, schema, document, at: "$") == ["$.secret: not in the document"])
        let missing: [String: Any] = ["site": "P01", "mode": "weird", "managementPoints": []]
        #expect(Set(Self.problems(missing, schema, document, at: "$")).count == 2)
    }
}
