import Foundation

/// The API's OpenAPI 3 document, `Sources/API/openapi.json`: written by hand, committed, served
/// at `/openapi.json`, and checked against the router's routes by a test so the two cannot drift.
public enum OpenAPIDocument {
    public static let data: Data = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else {
            return Data(#"{"error":"internal","message":"this build of defpi lacks its OpenAPI document"}"#.utf8)
        }
        return data
    }()
}
