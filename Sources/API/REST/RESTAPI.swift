import Engine
import Foundation
import HTTPTypes
import Hummingbird

/// The REST API of `defpi serve`: the original dEF-Pi orchestrator's resources, paths, list
/// conventions and JSON field names (so its web UI and scripts keep working), on the Engine's
/// managers, which decide who sees and changes what. Errors are JSON; no answer carries a
/// password hash or a process token. The process trigger is not here: it stays on the
/// gateway-facing socket (`EngineAPI`).
public struct RESTAPI: Sendable {
    public let engine: Engine
    /// Origins whose web pages may call the API (CORS, with credentials); none by default.
    public let allowedOrigins: Set<String>

    public init(engine: Engine, allowedOrigins: Set<String> = []) {
        self.engine = engine
        self.allowedOrigins = allowedOrigins
    }

    /// The routes, behind JSON errors, the cross-site guard, CORS for the allowed origins only,
    /// and sign-in.
    public func router() -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.addMiddleware {
            APIErrorMiddleware()
            CrossSiteGuard(allowedOrigins: allowedOrigins)
            CORSMiddleware(allowOrigin: allowedOrigins.isEmpty ? .none : .originBased,
                           allowHeaders: [.accept, .authorization, .contentType, .origin],
                           allowMethods: [.get, .post, .put, .delete, .options], allowCredentials: !allowedOrigins.isEmpty,
                           exposedHeaders: ["X-Total-Count", "X-Pending-Change"])
            SignInMiddleware(signIn: engine.signIn)
        }
        addSystemRoutes(to: router)
        addUserRoutes(to: router)
        addQuotaRoutes(to: router)
        addHostPathRoutes(to: router)
        addNodeRoutes(to: router)
        addServiceRoutes(to: router)
        addProcessRoutes(to: router)
        addConnectionRoutes(to: router)
        addChangeRoutes(to: router)
        return router
    }
}

extension Request {
    /// The path parameter `name`.
    func parameter(_ name: String, _ context: APIContext) throws -> String {
        try context.parameters.require(name)
    }
}

extension Response {
    /// `response` with the pending changes a request queued named in `X-Pending-Change`.
    func naming(_ changes: [PendingChange]) -> Response {
        var response = self
        if !changes.isEmpty { response.headers[HTTPField.Name("X-Pending-Change")!] = changes.map(\.id).joined(separator: ", ") }
        return response
    }
}
