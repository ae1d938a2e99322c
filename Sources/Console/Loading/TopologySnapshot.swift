import Engine
import Foundation

/// What the topology panes (nodes, pools, processes, connections, users) are drawn from, read from the
/// Engine's managers collection by collection: a notification about a node re-reads the nodes,
/// never the 10,000 processes beside them.
struct TopologySnapshot: Sendable {
    /// The collections the snapshot holds.
    static let collections: Set<EntityCollection> = [.node, .nodePool, .user, .process, .connection]

    var nodes: [Node] = []
    var pools: [NodePool] = []
    var users: [User] = []
    /// Each user's quota as it holds for them, by user id.
    var quotas: [String: UserQuota] = [:]
    var processes: [ServiceProcess] = []
    var connections: [Connection] = []

    /// Re-reads the collections in `stale`, as `caller` may see them.
    mutating func refresh(_ stale: Set<EntityCollection>, from engine: Engine, as caller: Caller) async throws {
        if stale.contains(.node) { nodes = try await engine.nodes.nodes(by: caller) }
        if stale.contains(.nodePool) { pools = try await engine.pools.pools(by: caller) }
        if stale.contains(.user) {
            users = try await engine.users.users(by: caller)
            quotas = try await engine.quotas.quotas(by: caller)
        }
        if stale.contains(.process) { processes = try await engine.processes.processes(by: caller) }
        if stale.contains(.connection) { connections = try await engine.connections.connections(by: caller) }
    }

    /// The topology and the panes' rows.
    func rows(catalog: ServiceCatalog?, now: Date) -> (Topology, [Pane.Kind: [TableRow]]) {
        let topology = Topology(processes: processes, connections: connections, nodes: nodes, users: users, catalog: catalog)
        return (topology, [
            .nodes: RowRenderer.nodeRows(nodes, pools: pools, users: users, processCounts: topology.processCountsByNode),
            .pools: RowRenderer.poolRows(pools, nodes: nodes),
            .processes: RowRenderer.processRows(topology, now: now),
            .graph: RowRenderer.linkRows(topology),
            .users: RowRenderer.userRows(users, processes: processes, nodes: nodes, quotas: quotas),
        ])
    }
}
