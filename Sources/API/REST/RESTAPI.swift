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

    public init(engine: Engine) { self.engine = engine }

    /// The routes, behind CORS (as the original answered), JSON errors and sign-in.
    public func router() -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.addMiddleware {
            APIErrorMiddleware()
            CORSMiddleware(allowOrigin: .all, allowHeaders: [.accept, .authorization, .contentType, .origin],
                           allowMethods: [.get, .post, .put, .delete, .options], exposedHeaders: ["X-Total-Count"])
            SignInMiddleware(signIn: engine.signIn)
        }
        addSystemRoutes(to: router)
        addUserRoutes(to: router)
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
