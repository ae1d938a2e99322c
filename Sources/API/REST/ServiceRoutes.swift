import Engine
import Foundation
import Hummingbird

/// `/service` and `/interface`: what the registry holds, for everyone signed in.
extension RESTAPI {
    func addServiceRoutes(to router: Router<APIContext>) {
        let services = engine.services
        let shape = ResourceShapes.service
        router.get("/service") { request, context -> Response in
            _ = try context.signedIn()
            let current = try await services.catalog().entries.compactMap(\.current)
            return try await ListQuery(request, shape: shape).response(current)
        }
        router.get("/service/:id") { request, context -> Response in
            _ = try context.signedIn()
            return try APIBody.json(try await services.service(try request.parameter("id", context)))
        }
        router.get("/service/:id/all") { request, context -> Response in
            _ = try context.signedIn()
            let versions = try await services.versions(of: try request.parameter("id", context))
            return try await ListQuery(request, shape: shape).response(versions)
        }
        router.get("/service/:id/:version") { request, context -> Response in
            _ = try context.signedIn()
            let service = try await services.service(try request.parameter("id", context),
                                                     version: try request.parameter("version", context))
            return try APIBody.json(service)
        }
        let interfaceShape = ResourceShapes.interface
        router.get("/interface") { request, context -> Response in
            _ = try context.signedIn()
            let interfaces = try await Self.currentInterfaces(services)
            return try await ListQuery(request, shape: interfaceShape).response(interfaces)
        }
        // Interface ids are SERVICE/NAME (`meter/readings`): the two segments of the path.
        router.get("/interface/:serviceId/:name") { request, context -> Response in
            _ = try context.signedIn()
            let id = "\(try request.parameter("serviceId", context))/\(try request.parameter("name", context))"
            guard let interface = try await Self.currentInterfaces(services).first(where: { $0.id == id }) else {
                throw LookupError.notFound(what: "interface", reference: id)
            }
            return try APIBody.json(interface)
        }
    }

    /// The interfaces of every service's current version.
    static func currentInterfaces(_ services: ServiceManager) async throws -> [Interface] {
        try await services.catalog().entries.compactMap(\.current).flatMap(\.interfaces)
    }
}
