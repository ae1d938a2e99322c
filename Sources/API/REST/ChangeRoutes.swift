import Engine
import Foundation
import HTTPTypes
import Hummingbird

/// `/pendingchange`: the queue, newest first, paged by the store; a user's own changes, every
/// change for an admin. `DELETE` cancels a waiting change or dismisses a failed one, as the
/// original's delete did; defpi adds retry.
extension RESTAPI {
    func addChangeRoutes(to router: Router<APIContext>) {
        let queue = engine.queue
        let shape = ResourceShapes.change
        router.get("/pendingchange") { request, context -> Response in
            let caller = try context.signedIn()
            let query = try ListQuery(request, shape: shape)
            if let field = query.sortField, field != "created" {
                throw APIError(.invalidRequest, message: "pending changes are listed by created (newest first), not by \(field)")
            }
            let filter = try Self.changeFilter(query)
            var page = try await queue.changes(filter, by: caller)
            if query.sortField != nil && !query.descending { page.items.reverse() }
            return try APIBody.json(page.items, total: page.total)
        }
        router.get("/pendingchange/:id") { request, context -> Response in
            try APIBody.json(try await queue.change(try request.parameter("id", context), by: try context.signedIn()))
        }
        router.post("/pendingchange/:id/retry") { request, context -> Response in
            try APIBody.json(try await queue.retry(try request.parameter("id", context), by: try context.signedIn()))
        }
        router.post("/pendingchange/:id/cancel") { request, context -> Response in
            try APIBody.json(try await queue.cancel(try request.parameter("id", context), by: try context.signedIn()))
        }
        router.delete("/pendingchange/:id") { request, context -> Response in
            let caller = try context.signedIn()
            let change = try await queue.change(try request.parameter("id", context), by: caller)
            if change.state == .failedPermanently || change.state == .cancelled {
                try await queue.dismiss(change.id, by: caller)
            } else {
                _ = try await queue.cancel(change.id, by: caller)
            }
            return Response(status: .noContent)
        }
    }

    /// The store's filter for a list query: `state`, `type`, `userId` and `resource` filters, and its page.
    static func changeFilter(_ query: ListQuery) throws -> ChangeFilter {
        var filter = ChangeFilter()
        for (key, value) in query.filters {
            let text = ResourceShape.text(value)
            switch key {
            case "state":
                guard let state = PendingChangeState(rawValue: text.uppercased()) else {
                    throw APIError(.invalidRequest, message: "state is one of \(PendingChangeState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                filter.states = [state]
            case "type": filter.kinds = [PendingChangeKind(rawValue: text)]
            case "userId": filter.user = text
            case "resource": filter.resource = text
            default: throw APIError(.invalidRequest, message: "pending changes filter on state, type, userId and resource, not \(key)")
            }
        }
        if query.page > 0 && query.perPage > 0 {
            // Both within what every store takes (a 32-bit skip and limit), saturating.
            let storeMaximum = Int(Int32.max)
            let (skipped, overflow) = (query.page - 1).multipliedReportingOverflow(by: query.perPage)
            filter.offset = overflow ? storeMaximum : min(skipped, storeMaximum)
            filter.limit = min(query.perPage, storeMaximum)
        }
        return filter
    }
}
