import Foundation

/// A place a process may be put, as the console's pickers offer it: anywhere, a pool or a node,
/// with why it cannot be chosen now.
public struct PlacementOption: Sendable, Equatable {
    public var request: PlacementRequest
    /// "anywhere", "pool edge", "node tb-w1 (public)".
    public var label: String
    /// How many nodes of it could run the process now.
    public var eligibleNodes: Int
    /// Why it cannot be chosen; nil when it can.
    public var problem: String?
    /// Whether the process is placed here now (moves only).
    public var isCurrent: Bool
}

extension ProcessManager {
    /// Where a new process of `serviceId` at `version` (default: the newest usable) for `owner`
    /// (default: the caller) could be deployed.
    public func placementOptions(serviceId: String, version: String?, owner ownerName: String?, by caller: Caller)
        async throws -> [PlacementOption]
    {
        let owner = try await owner(ownerName, for: caller)
        let service = try await services.service(serviceId, version: version)
        return try await placementOptions(for: service, owner: owner, current: nil, excluding: nil)
    }

    /// Where `reference` could be moved, keeping its version; its current target is marked.
    public func placementOptions(moving reference: String, by caller: Caller) async throws -> [PlacementOption] {
        let process = try await process(reference, by: caller)
        guard let owner = try await store.fetch(User.self, id: process.userId) else {
            throw LookupError.notFound(what: "user", reference: process.userId)
        }
        let service = try await services.service(process.serviceId, version: process.serviceVersion)
        return try await placementOptions(for: service, owner: owner, current: process.placement, excluding: process.id)
    }

    /// Anywhere, then the pools, then the nodes the owner may use, each decided as a deployment would.
    private func placementOptions(for service: Service, owner: User, current: PlacementTarget?, excluding processId: String?)
        async throws -> [PlacementOption]
    {
        let placement = try await deployment.placement(for: owner.id, excluding: processId)
        let pools = try await store.all(NodePool.self).sorted { $0.name < $1.name }
        let nodes = placement.nodes.filter { Caller(user: owner).maySee($0) && $0.kind != .unidentified }
            .sorted { $0.name < $1.name }
        var targets: [(PlacementTarget, PlacementRequest, String)] = [(.automatic, .automatic, "anywhere")]
        targets += pools.map { (.pool($0.id), .pool($0.id), "pool \($0.name)") }
        targets += nodes.map { node in
            (node.kind == .private ? .privateNode(node.id) : .publicNode(node.id), .node(node.id),
             "node \(node.name) (\(node.kind == .private ? "private" : "public"))")
        }
        return targets.map { target, request, label in
            let decision = placement.decide(target, owner: owner, service: service)
            return PlacementOption(request: request, label: label, eligibleNodes: decision.eligible.count,
                                   problem: Self.problem(of: decision), isCurrent: target == current)
        }
    }

    /// Why no node of a decision can be chosen: the node's own reason, or every node's.
    private static func problem(of decision: Placement.Decision) -> String? {
        guard decision.eligible.isEmpty else { return nil }
        switch decision.rejected.count {
        case 0: return "has no classified nodes"
        case 1: return decision.rejected[0].reason
        default: return "no node can take it: " + decision.reasons.joined(separator: "; ")
        }
    }
}
