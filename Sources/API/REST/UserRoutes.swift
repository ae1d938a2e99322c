import Engine
import Foundation
import Hummingbird

/// `/user`: admins manage every user; a user reads and updates their own record (email,
/// password), and never their role.
extension RESTAPI {
    struct NewUser: APIInput {
        static let fields: Set<String> = ["username", "password", "email", "admin"]
        var username: String
        var password: String
        var email: String?
        var admin: Bool?
    }

    /// An update; the record's other fields, as the original's web UI sends them back, are
    /// accepted when unchanged.
    struct UserUpdate: APIInput {
        static let fields: Set<String> = ["id", "revision", "username", "password", "currentPassword", "passwordHash", "email", "admin"]
        var id: String?
        var username: String?
        var password: String?
        /// Your own password's current value, when you change it.
        var currentPassword: String?
        var passwordHash: String?
        var email: String?
        var admin: Bool?
    }

    func addUserRoutes(to router: Router<APIContext>) {
        let users = engine.users
        let shape = ResourceShapes.user
        router.get("/user") { request, context -> Response in
            let query = try ListQuery(request, shape: shape)
            return try await query.response(try await users.users(by: try context.signedIn()))
        }
        router.get("/user/by_username/:name") { request, context -> Response in
            let user = try await users.user(try request.parameter("name", context), by: try context.signedIn())
            return try APIBody.json(user)
        }
        router.get("/user/:id") { request, context -> Response in
            try APIBody.json(try await users.user(try request.parameter("id", context), by: try context.signedIn()))
        }
        router.post("/user") { request, context -> Response in
            let caller = try context.signedIn()
            let body = try await request.decode(NewUser.self, context: context)
            let user = try await users.create(username: body.username, password: body.password, email: body.email,
                                              admin: body.admin ?? false, by: caller)
            return try APIBody.json(user, status: .created)
        }
        router.put("/user/:id") { request, context -> Response in
            let caller = try context.signedIn()
            let id = try request.parameter("id", context)
            let body = try await request.decode(UserUpdate.self, context: context)
            let current = try await users.user(id, by: caller)
            if let bodyId = body.id, bodyId != current.id {
                throw APIError(.invalidRequest, message: "the body's id \(bodyId) is not the path's \(current.id)")
            }
            if let username = body.username, username != current.username {
                throw APIError(.invalidRequest, message: "a username cannot change (\(current.username))")
            }
            if let hash = body.passwordHash, !hash.isEmpty {
                throw APIError(.invalidRequest, message: "passwordHash cannot be set; send the new password in password")
            }
            let password = body.password.flatMap { $0.isEmpty ? nil : $0 }
            let updated = try await users.update(current.id, email: body.email.map { .some($0) }, password: password,
                                                 currentPassword: body.currentPassword, admin: body.admin, by: caller)
            return try APIBody.json(updated)
        }
        router.delete("/user/:id") { request, context -> Response in
            try await users.delete(try request.parameter("id", context), by: try context.signedIn())
            return Response(status: .noContent)
        }
    }
}
