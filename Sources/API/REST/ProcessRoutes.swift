import Engine
import Foundation
import Hummingbird

/// `/process`: a user's processes, every process for an admin. Creating, updating and
/// terminating queue changes; the answers name them in `X-Pending-Change`.
extension RESTAPI {
    func addProcessRoutes(to router: Router<APIContext>) {
        let processes = engine.processes
        let services = engine.services
        let shape = ResourceShapes.process
        router.get("/process") { request, context -> Response in
            let caller = try context.signedIn()
            let query = try ListQuery(request, shape: shape.adding("hashpair"))
            var listed = try await processes.processes(by: caller)
            if let pair = query.filters["hashpair"] {
                // The original's filter: processes whose service version has an interface version of those hashes.
                let hashes = try HashPair(ResourceShape.text(pair))
                let catalog = try await services.catalog()
                let offering = Set(catalog.entries.flatMap(\.versions)
                    .filter { $0.interfaces.contains { hashes.matches($0.interfaceVersions) } }.map { "\($0.id) \($0.version)" })
                listed = listed.filter { offering.contains("\($0.serviceId) \($0.serviceVersion)") }
            }
            return try await query.response(listed)
        }
        router.get("/process/:id") { request, context -> Response in
            try APIBody.json(try await processes.process(try request.parameter("id", context), by: try context.signedIn()))
        }
        router.post("/process") { request, context -> Response in
            let caller = try context.signedIn()
            let body = try await request.decode(ProcessInput.self, context: context)
            let (process, change) = try await processes.create(try body.request(), by: caller)
            return try APIBody.json(process, status: .created).naming([change])
        }
        router.put("/process/:id") { request, context -> Response in
            let caller = try context.signedIn()
            let process = try await processes.process(try request.parameter("id", context), by: caller)
            let update = try await request.decode(ProcessInput.self, context: context).update(of: process)
            var changes: [PendingChange] = []
            if update.version != nil || update.target != nil {
                changes.append(try await processes.relocate(process.id, version: update.version, target: update.target, by: caller))
            }
            if let configuration = update.configuration {
                let removed = Set(process.configuration.map(\.key)).subtracting(configuration.map(\.key))
                changes.append(try await processes.configure(process.id, set: configuration, unset: removed.sorted(), by: caller))
            }
            return try APIBody.json(try await processes.process(process.id, by: caller))
                .naming(changes)
        }
        router.delete("/process/:id") { request, context -> Response in
            let force = try Self.flag(request.uri.queryParameters["force"], name: "force")
            let change = try await processes.terminate(try request.parameter("id", context), force: force, by: try context.signedIn())
            return Response(status: .noContent).naming([change])
        }
        router.get("/process/:id/logs") { request, context -> Response in
            let caller = try context.signedIn()
            let tail = try Self.count(request.uri.queryParameters["tail"], default: 100)
            // Refused (not found, not deployed) before the answer starts; then streamed.
            let process = try await processes.process(try request.parameter("id", context), by: caller)
            guard process.dockerId != nil else { throw ProcessError.notDeployed(process.name) }
            let stream = LogStream { onLine in
                try await processes.logs(process.id, tail: tail, follow: false, by: caller, onLine: onLine)
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: stream.body)
        }
        router.get("/process/:id/history") { request, context -> Response in
            let events = try await processes.history(try request.parameter("id", context), by: try context.signedIn())
            return try await ListQuery(request, shape: ResourceShape()).response(events)
        }
    }

    /// A count from the query (`tail=N`), 0 to 10,000.
    /// `true` or `false` (absent: false).
    static func flag(_ text: Substring?, name: String) throws -> Bool {
        switch text?.lowercased() {
        case nil, "false": return false
        case "true": return true
        case let other?: throw APIError(.invalidRequest, message: "\(name) is true or false, not \(other.prefix(40))")
        }
    }

    static func count(_ text: Substring?, default value: Int) throws -> Int {
        guard let text else { return value }
        guard let count = Int(text), (0...10_000).contains(count) else {
            throw APIError(.invalidRequest, message: "tail is a whole number from 0 to 10000, not \(text)")
        }
        return count
    }
}
