import Engine
import Foundation
import Hummingbird

/// `/node/{id}/hostpath` and `/nodepool/{id}/hostpath`: defpi's own sub-resources (the original's
/// node and pool shapes stay as they were): the host paths tenants may mount there. Whoever may
/// see the node or pool reads them; admins replace the whole list at once.
extension RESTAPI {
    func addHostPathRoutes(to router: Router<APIContext>) {
        let hostPaths = engine.hostPaths
        for (path, place) in [("/node/:id/hostpath", HostPathPlace.node), ("/nodepool/:id/hostpath", HostPathPlace.pool)] {
            router.get(RouterPath(path)) { request, context -> Response in
                try APIBody.json(try await hostPaths.grants(place(try request.parameter("id", context)), by: try context.signedIn()))
            }
            router.put(RouterPath(path)) { request, context -> Response in
                let caller = try context.signedIn()
                let grants = try await request.decodeList(HostPathGrantInput.self, context: context).map(\.grant)
                return try APIBody.json(try await hostPaths.edit(place(try request.parameter("id", context)), .replace(grants), by: caller))
            }
        }
    }

    struct HostPathGrantInput: APIInput {
        static let fields: Set<String> = ["path", "writable"]
        var path: String
        var writable: Bool?

        var grant: HostPathGrant { HostPathGrant(path: path, writable: writable ?? false) }
    }
}
