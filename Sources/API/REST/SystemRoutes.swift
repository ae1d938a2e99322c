import Engine
import Foundation
import Hummingbird

/// Signing in and out, and what anyone may read about the server.
extension RESTAPI {
    /// The body of `POST /login`; without one, the request's Basic credentials sign in.
    struct Login: APIInput {
        static let fields: Set<String> = ["username", "password"]
        var username: String
        var password: String
    }

    func addSystemRoutes(to router: Router<APIContext>) {
        let signIn = engine.signIn
        router.post("/login") { request, context -> Response in
            let credentials: Login
            if let header = request.headers[.authorization], SignInMiddleware.split(header).scheme.lowercased() == "basic",
               let (username, password) = SignInMiddleware.basic(SignInMiddleware.split(header).credentials) {
                credentials = Login(username: username, password: password)
            } else {
                credentials = try await request.decode(Login.self, context: context)
            }
            let issued = try await signIn.signIn(username: credentials.username, password: credentials.password,
                                                 source: context.source)
            return try APIBody.json(issued, status: .created)
        }
        router.post("/logout") { _, context -> Response in
            _ = try context.signedIn()
            if let token = context.bearerToken { try await signIn.signOut(bearer: token) }
            return Response(status: .noContent)
        }
        router.get("/diag") { _, _ -> String in
            "defpi \(DefpiVersion.current)\n"
        }
        let engine = self.engine
        router.get("/health") { _, context -> Response in
            let report = try await engine.health(by: try context.signedIn())
            let text = report.isHealthy ? "Healthy\n" : "*** Unhealthy! ***\n" + report.problems.map { "\t\($0)\n" }.joined()
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.data)))
        }
    }
}
