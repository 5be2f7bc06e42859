import DirectoryServing
import Foundation
import Testing

@testable import SiteLab

/// schemathesis (PyPI) against a running management point and distribution point, from the OpenAPI document: no
/// 5xx, no answer outside the document, no hang. Every check but `positive_data_acceptance`: the document cannot
/// say exactly which strings are addresses (schemathesis then sends `::::/7`, which is rightly refused).
@Suite(.timeLimit(.minutes(4))) struct ServiceFuzzing {
    /// A virtual environment with schemathesis, kept in `.build-tools/` between runs.
    static func schemathesis() async throws -> String {
        let tools = ContentServices.repository.appendingPathComponent(".build-tools/schemathesis").path
        let program = tools + "/bin/schemathesis"
        if !FileManager.default.isExecutableFile(atPath: program) {
            _ = try await ProcessControl.run("/usr/bin/env", ["python3", "-m", "venv", tools])
            _ = try await ProcessControl.run(tools + "/bin/pip", ["install", "--quiet", "schemathesis==4.32.5"])
        }
        return program
    }

    @Test func schemathesisFindsNothingAgainstAManagementPointAndDistributionPoint() async throws {
        let program = try await Self.schemathesis()
        let fixture = try ServicesFixture()
        defer { fixture.remove() }
        try fixture.placeEverything()
        let document = ContentServices.repository.appendingPathComponent("docs/openapi/management-point.yaml").path
        try await fixture.serving {
            // s01-mp is both roles on one listener.
            let url = try fixture.url("s01-mp.corp.contoso.com").absoluteString
            // Run from a folder of its own: schemathesis and hypothesis write caches into the working directory,
            // which is the repository.
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("siteloc-fuzz-\(UUID())")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            let output: String
            do {
                output = try await ProcessControl.run(
                    "/usr/bin/env",
                    [
                        // allow_header_conformance: a DP's `Allow` names PROPFIND (WebDAV, as Configuration
                        // Manager's client starts a download), a method OpenAPI 3.0 cannot document.
                        "-C", scratch.path, program, "run", document, "--url", url, "--checks", "all",
                        "--exclude-checks",
                        "positive_data_acceptance,allow_header_conformance", "--max-time", "20", "--workers", "2",
                        "--request-timeout", "5",
                        "--no-color",
                    ]
                )
            } catch {
                Issue.record("schemathesis found problems:\n\(error)")
                return
            }
            #expect(output.contains("generated"), "\(output.suffix(2000))")
        }
    }
}
