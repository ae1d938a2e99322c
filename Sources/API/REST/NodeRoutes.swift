import Engine
import Foundation
import Hummingbird

/// `/unidentifiednode`, `/publicnode`, `/privatenode` (one list per kind, as the original kept
/// them) and `/nodepool`. Everyone signed in reads the public nodes and the pools; a user reads
/// their own private nodes; admins classify, rename and declassify.
extension RESTAPI {
    /// `POST /publicnode` and `/privatenode`: the node (its id, swarm id or hostname), and the
    /// pool or the owner; defpi's `moveTo` (a pool or node) moves the processes of a private
    /// node's owner there first.
    struct Classification: APIInput {
        static let fields: Set<String> = ["dockerId", "nodeId", "name", "nodePoolId", "userId", "moveTo"]
        var dockerId: String?
        var nodeId: String?
        var name: String?
        var nodePoolId: String?
        var userId: String?
        var moveTo: String?

        func node() throws -> String {
            guard let reference = nodeId ?? dockerId else {
                throw APIError(.invalidRequest, message: "give the node: nodeId (or dockerId, the original's field)")
            }
            return reference
        }
    }

    struct Rename: APIInput {
        static let fields: Set<String> = ["id", "revision", "name", "dockerId", "hostname", "lastSync", "status", "architecture",
                                          "availability", "role", "kind", "nodePoolId", "userId"]
        var id: String?
        var name: String
    }

    func addNodeRoutes(to router: Router<APIContext>) {
        let nodes = engine.nodes
        let processes = engine.processes
        let shape = ResourceShapes.node
        for kind in [NodeKind.unidentified, .public, .private] {
            let path = "/\(kind.rawValue.lowercased())node"
            router.get(RouterPath(path)) { request, context -> Response in
                // Visibility is the Engine's: a user sees no unidentified node.
                let caller = try context.signedIn()
                let query = try ListQuery(request, shape: shape)
                return try await query.response(try await nodes.nodes(by: caller).filter { $0.kind == kind })
            }
            router.get(RouterPath(path + "/:id")) { request, context -> Response in
                let node = try await nodes.node(try request.parameter("id", context), by: try context.signedIn())
                guard node.kind == kind else { throw LookupError.notFound(what: "\(kind.rawValue.lowercased()) node", reference: node.id) }
                return try APIBody.json(node)
            }
            router.put(RouterPath(path + "/:id")) { request, context -> Response in
                let caller = try context.signedIn()
                let node = try await nodes.node(try request.parameter("id", context), by: caller)
                let body = try await request.decode(Rename.self, context: context)
                let change = try await nodes.rename(node.id, to: body.name, by: caller)
                return try APIBody.json(try await nodes.node(node.id, by: caller)).naming([change])
            }
            guard kind != .unidentified else { continue }
            router.delete(RouterPath(path + "/:id")) { request, context -> Response in
                let caller = try context.signedIn()
                let node = try await nodes.node(try request.parameter("id", context), by: caller)
                guard node.kind == kind else { throw LookupError.notFound(what: "\(kind.rawValue.lowercased()) node", reference: node.id) }
                var changes: [PendingChange] = []
                if let moveTo = request.uri.queryParameters.get("moveTo") {
                    changes = try await processes.evacuate(node: node.id, to: moveTo, by: caller)
                }
                return Response(status: .noContent).naming(changes + [try await nodes.declassify(node.id, by: caller)])
            }
            router.post(RouterPath(path)) { request, context -> Response in
                let caller = try context.signedIn()
                let body = try await request.decode(Classification.self, context: context)
                var moves: [PendingChange] = []
                if let moveTo = body.moveTo { moves = try await processes.evacuate(node: try body.node(), to: moveTo, by: caller) }
                let change: PendingChange
                if kind == .public {
                    guard let pool = body.nodePoolId else { throw APIError(.invalidRequest, message: "give the pool: nodePoolId") }
                    change = try await nodes.classifyPublic(try body.node(), pool: pool, name: body.name, by: caller)
                } else {
                    guard let owner = body.userId else { throw APIError(.invalidRequest, message: "give the owner: userId") }
                    change = try await nodes.classifyPrivate(try body.node(), owner: owner, name: body.name, by: caller)
                }
                let node = try await nodes.node(change.resources.first ?? "", by: caller)
                return try APIBody.json(node, status: .created).naming(moves + [change])
            }
        }
        addPoolRoutes(to: router)
    }

    struct PoolInput: APIInput {
        static let fields: Set<String> = ["id", "revision", "name"]
        var id: String?
        var name: String
    }

    private func addPoolRoutes(to router: Router<APIContext>) {
        let pools = engine.pools
        let shape = ResourceShapes.pool
        router.get("/nodepool") { request, context -> Response in
            try await ListQuery(request, shape: shape).response(try await pools.pools(by: try context.signedIn()))
        }
        router.get("/nodepool/:id") { request, context -> Response in
            try APIBody.json(try await pools.pool(try request.parameter("id", context), by: try context.signedIn()))
        }
        router.post("/nodepool") { request, context -> Response in
            let caller = try context.signedIn()
            let body = try await request.decode(PoolInput.self, context: context)
            return try APIBody.json(try await pools.create(named: body.name, by: caller), status: .created)
        }
        router.put("/nodepool/:id") { request, context -> Response in
            let caller = try context.signedIn()
            let pool = try await pools.pool(try request.parameter("id", context), by: caller)
            let body = try await request.decode(PoolInput.self, context: context)
            if let id = body.id, id != pool.id { throw APIError(.invalidRequest, message: "the body's id \(id) is not the path's \(pool.id)") }
            return try APIBody.json(try await pools.rename(pool.id, to: body.name, by: caller))
        }
        router.delete("/nodepool/:id") { request, context -> Response in
            try await pools.delete(try request.parameter("id", context), by: try context.signedIn())
            return Response(status: .noContent)
        }
    }
}
