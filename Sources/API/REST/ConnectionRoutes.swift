import Engine
import Foundation
import Hummingbird

/// `/connection`: connections touching the caller's processes (each once), every one for an admin.
extension RESTAPI {
    struct NewConnection: APIInput {
        static let fields: Set<String> = ["endpoint1", "endpoint2", "id", "revision"]
        struct End: Decodable {
            var processId: String
            var interfaceId: String
        }
        var endpoint1: End
        var endpoint2: End
    }

    func addConnectionRoutes(to router: Router<APIContext>) {
        let connections = engine.connections
        let shape = ResourceShapes.connection
        router.get("/connection") { request, context -> Response in
            try await ListQuery(request, shape: shape).response(try await connections.connections(by: try context.signedIn()))
        }
        // Before `/connection/:id`: for a (process, interface), every other one as compatible, incompatible or full.
        router.get("/connection/candidates") { request, context -> Response in
            let caller = try context.signedIn()
            let query = request.uri.queryParameters
            guard let process = query["processId"], let interface = query["interfaceId"] else {
                throw APIError(.invalidRequest, message: "give processId and interfaceId in the query")
            }
            let candidates = try await connections.candidates(
                for: InterfaceReference(process: String(process), interface: String(interface)), by: caller)
            return try await ListQuery(request, shape: ResourceShapes.candidate).response(candidates)
        }
        router.get("/connection/:id") { request, context -> Response in
            try APIBody.json(try await connections.connection(try request.parameter("id", context), by: try context.signedIn()))
        }
        router.post("/connection") { request, context -> Response in
            let caller = try context.signedIn()
            let body = try await request.decode(NewConnection.self, context: context)
            let (connection, changes) = try await connections.create(
                InterfaceReference(process: body.endpoint1.processId, interface: body.endpoint1.interfaceId),
                InterfaceReference(process: body.endpoint2.processId, interface: body.endpoint2.interfaceId), by: caller)
            return try APIBody.json(connection, status: .created).naming(changes)
        }
        router.delete("/connection/:id") { request, context -> Response in
            let changes = try await connections.remove(try request.parameter("id", context), by: try context.signedIn())
            return Response(status: .noContent).naming(changes)
        }
    }
}
