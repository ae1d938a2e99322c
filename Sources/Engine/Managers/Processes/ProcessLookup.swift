import Foundation

/// Finding processes as a caller may see them: every process for an admin, their own for a
/// user. Shared by the managers that act on processes (processes, connections).
struct ProcessLookup: Sendable {
    let store: any Store

    /// The processes `caller` may see, by name.
    func processes(by caller: Caller) async throws -> [ServiceProcess] {
        let filter: StoreFilter = caller.isAdmin ? .all : .where("userId", is: caller.userId ?? "")
        return try await store.all(ServiceProcess.self, filter).sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    /// The process a reference names among those `caller` may see: its id, its name, or a unique
    /// id prefix. Another user's process is not found, never forbidden.
    func process(_ reference: String, by caller: Caller) async throws -> ServiceProcess {
        // An id is one indexed read (what the REST API and the console name processes by).
        if ObjectID.isValid(reference), let process = try await store.fetch(ServiceProcess.self, id: reference),
           caller.maySee(process) {
            return process
        }
        let visible = try await processes(by: caller)
        let owners = caller.isAdmin
            ? Dictionary(try await store.all(User.self).map { ($0.id, $0.username) }, uniquingKeysWith: { first, _ in first })
            : [:]
        return try References.resolve(reference, in: visible, what: "process", key: { [$0.id, $0.name] }, prefix: { $0.id },
                                      label: { process in owners[process.userId].map { "\(process.name) of \($0)" } ?? process.name })
    }
}
