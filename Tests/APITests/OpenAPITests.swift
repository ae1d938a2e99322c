import DefpiAPI
import DefpiTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Engine

/// The committed OpenAPI document is valid OpenAPI 3, is what `/openapi.json` serves, and
/// names exactly the router's routes: a route added or removed on one side only fails here.
@Suite("OpenAPI document", .timeLimit(.minutes(5)))
struct OpenAPITests {
    static let path = TestBed.repositoryRoot + "/Sources/API/openapi.json"

    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test("the document's operations are the router's routes, one for one")
    func routesMatch() async throws {
        let bed = try await APIBed()
        let routes = Set(RESTAPI(engine: bed.engine).router().routes.map { route in
            let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            return "\(route.method.rawValue) /\(path.joined(separator: "/"))"
        })
        let paths = try #require(try Self.document()["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in
            operations.keys.filter { ["get", "post", "put", "delete"].contains($0) }.map { "\($0.uppercased()) \(path)" }
        })
        #expect(routes.subtracting(documented).sorted() == [], "routes missing from the document")
        #expect(documented.subtracting(routes).sorted() == [], "documented operations with no route")
    }

    @Test("/openapi.json serves the committed document")
    func served() async throws {
        let bed = try await APIBed()
        let committed = try Data(contentsOf: URL(fileURLWithPath: Self.path))
        try await bed.withClient { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(Data(buffer: response.body) == committed)
            }
        }
    }

    @Test("the document is valid OpenAPI 3 (openapi-spec-validator)")
    func valid() async throws {
        let check = try await ChildProcess.run("/usr/bin/env", ["python3", "-c", """
            import json, sys
            try:
                from openapi_spec_validator import validate
            except ImportError:
                sys.exit(3)
            validate(json.load(open(sys.argv[1])))
            """, Self.path])
        if check.status == 3 {
            #expect(!TestBed.isRequired, "openapi-spec-validator is not installed (scripts/test.sh installs it)")
            return
        }
        #expect(check.status == 0, "\(check.stderr)")
    }
}
