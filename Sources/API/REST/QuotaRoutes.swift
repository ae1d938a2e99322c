import Engine
import Foundation
import Hummingbird

/// `/user/{id}/quota`: defpi's own sub-resource of a user (the original's user shape stays as it
/// was): what their processes may take together and take now; set by admins, the whole quota at
/// once (a field left out or null has no limit, or the default of everyone).
extension RESTAPI {
    struct QuotaInput: APIInput {
        static let fields: Set<String> = ["userId", "maxProcesses", "maxMemoryBytes", "maxNanoCPUs", "defaultMemoryBytes",
                                          "defaultNanoCPUs", "ports", "usage"]
        var maxProcesses: Int?
        var maxMemoryBytes: Int64?
        var maxNanoCPUs: Int64?
        var defaultMemoryBytes: Int64?
        var defaultNanoCPUs: Int64?
        var ports: PortRange?
    }

    func addQuotaRoutes(to router: Router<APIContext>) {
        let quotas = engine.quotas
        router.get("/user/:id/quota") { request, context -> Response in
            try APIBody.json(try await quotas.report(for: try request.parameter("id", context), by: try context.signedIn()))
        }
        router.put("/user/:id/quota") { request, context -> Response in
            let caller = try context.signedIn()
            let id = try request.parameter("id", context)
            let body = try await request.decode(QuotaInput.self, context: context)
            try await quotas.set(for: id, QuotaChange(
                maxProcesses: .some(body.maxProcesses), maxMemoryBytes: .some(body.maxMemoryBytes),
                maxNanoCPUs: .some(body.maxNanoCPUs), defaultMemoryBytes: .some(body.defaultMemoryBytes),
                defaultNanoCPUs: .some(body.defaultNanoCPUs), ports: .some(body.ports)), by: caller)
            return try APIBody.json(try await quotas.report(for: id, by: caller))
        }
    }
}
