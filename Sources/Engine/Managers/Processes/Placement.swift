import Foundation

/// Which nodes may take a process, and which one does: only ready, active nodes with an image
/// for their architecture; private nodes only for their owner; among the eligible, the one
/// running the fewest processes, then the one already running most of this owner's, then by name.
struct Placement {
    /// Every node defpi knows.
    var nodes: [Node]
    /// Processes per node (their `runningNodeId`), and this owner's per node.
    var load: [String: Int]
    var ownerLoad: [String: Int]

    /// The outcome for one target: the eligible nodes, best first, and why each other node of
    /// the target was turned down.
    struct Decision: Sendable {
        var eligible: [Node]
        var rejected: [(node: Node, reason: String)]

        /// The reasons, one per turned-down node, for an error message.
        var reasons: [String] { rejected.map { "\($0.node.name) \($0.reason)" } }
    }

    /// The nodes of `target` that may run `service` for `owner`. Other users' private nodes are
    /// not the owner's to consider: neither eligible nor named among the rejected.
    func decide(_ target: PlacementTarget, owner: User, service: Service) -> Decision {
        var decision = Decision(eligible: [], rejected: [])
        for node in nodes where Self.belongs(node, to: target) && !(node.kind == .private && node.userId != owner.id) {
            if let reason = Self.rejection(of: node, service: service) {
                decision.rejected.append((node, reason))
            } else {
                decision.eligible.append(node)
            }
        }
        decision.eligible.sort {
            (load[$0.id] ?? 0, -(ownerLoad[$0.id] ?? 0), $0.name) < (load[$1.id] ?? 0, -(ownerLoad[$1.id] ?? 0), $1.name)
        }
        return decision
    }

    /// Whether `node` is one the target names (automatic: any classified node).
    static func belongs(_ node: Node, to target: PlacementTarget) -> Bool {
        switch target {
        case .pool(let pool): return node.kind == .public && node.nodePoolId == pool
        case .privateNode(let id), .publicNode(let id): return node.id == id
        case .automatic: return node.kind != .unidentified
        }
    }

    /// Why `node` cannot run `service` now; nil when it can.
    static func rejection(of node: Node, service: Service) -> String? {
        switch node.kind {
        case .unidentified: return "is not classified (an admin classifies it public or private)"
        default: break
        }
        guard node.status == .ready else { return "is \(node.status.rawValue.lowercased())" }
        switch node.availability {
        case .active: break
        case .pause: return "is paused"
        case .drain: return "is drained"
        case .unknown: return "has an unknown availability"
        }
        guard service.tags[node.architecture] != nil else {
            let has = service.architectures.map { $0.rawValue.lowercased() }.joined(separator: ", ")
            return "is \(node.architecture.rawValue.lowercased()), and \(service.id) \(service.version) has images for \(has.isEmpty ? "no architecture" : has) only"
        }
        return nil
    }

    /// How an error names a target.
    static func describe(_ target: PlacementTarget, nodes: [Node], pools: [NodePool]) -> String {
        switch target {
        case .pool(let id): return "in pool \(pools.first { $0.id == id }?.name ?? id)"
        case .privateNode(let id), .publicNode(let id): return "on node \(nodes.first { $0.id == id }?.name ?? id)"
        case .automatic: return "anywhere"
        }
    }
}
