import Foundation
import HTTPTypes
import Hummingbird

/// Keeps web pages of other sites out: a browser that once signed in with Basic sends those
/// credentials with any page's request, so a request is refused unless no page sent it or the
/// operator allowed that page's origin (`--cors-origin`), and a body is read only as JSON, which
/// no HTML form can send.
struct CrossSiteGuard: RouterMiddleware {
    typealias Context = APIContext
    /// Origins (`https://dash.example.org`) whose pages may call the API; none by default.
    let allowedOrigins: Set<String>

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws
        -> Response
    {
        if let origin = request.headers[.origin], !allowedOrigins.contains(origin) {
            throw APIError(.forbidden, message: "requests from pages of \(origin.prefix(200)) are not allowed; "
                           + "an operator allows an origin with `defpi serve --cors-origin ORIGIN`")
        }
        if Self.changesState(request.method), Self.hasBody(request) || request.headers[.contentType] != nil,
           !Self.isJSON(request.headers[.contentType]) {
            throw APIError(status: .unsupportedMediaType,
                           message: "send the body as JSON, with Content-Type: application/json")
        }
        return try await next(request, context)
    }

    static func changesState(_ method: HTTPRequest.Method) -> Bool {
        method == .post || method == .put || method == .patch || method == .delete
    }

    static func hasBody(_ request: Request) -> Bool {
        if request.headers[.transferEncoding] != nil { return true }
        return request.headers[.contentLength].flatMap { Int($0) }.map { $0 > 0 } ?? false
    }

    /// `application/json`, with or without parameters (`; charset=utf-8`).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }
}
