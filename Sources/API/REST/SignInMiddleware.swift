import Engine
import Foundation
import Hummingbird

/// Reads the request's credentials, HTTP Basic or a bearer token, into the context's caller.
/// Credentials that are given and wrong are refused here, whatever the route; a request with
/// none goes on anonymous, and routes that need a caller refuse it.
struct SignInMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let signIn: SignInManager

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws
        -> Response
    {
        guard let authorization = request.headers[.authorization] else { return try await next(request, context) }
        var context = context
        let (scheme, credentials) = Self.split(authorization)
        switch scheme.lowercased() {
        case "bearer":
            context.caller = try await signIn.caller(bearer: credentials)
            context.bearerToken = credentials
        case "basic":
            guard let (username, password) = Self.basic(credentials) else {
                throw APIError(.invalidRequest, message: "the Authorization header's Basic credentials are not base64 of USER:PASSWORD")
            }
            context.caller = try await signIn.caller(username: username, password: password, source: context.source)
        default:
            throw APIError(.invalidRequest, message: "the Authorization header must be Basic or Bearer")
        }
        return try await next(request, context)
    }

    static func split(_ header: String) -> (scheme: String, credentials: String) {
        let parts = header.split(separator: " ", maxSplits: 1)
        return (String(parts.first ?? ""), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
    }

    /// USER and PASSWORD of a Basic credential (the password may contain ':').
    static func basic(_ credentials: String) -> (String, String)? {
        guard let data = Data(base64Encoded: credentials), let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
