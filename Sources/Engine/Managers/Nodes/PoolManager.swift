import Foundation
import Logging

/// Node pools: named groups of public nodes that processes are placed in. Admins create,
/// rename and delete them; everyone may see them.
public final class PoolManager: Sendable {
    private let store: any Store
    private let nodes: NodeManager
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.pools")

    init(store: any Store, nodes: NodeManager, notifications: EngineNotifications) {
        self.store = store
        self.nodes = nodes
        self.notifications = notifications
    }

    /// Every pool, by name (pool names are no secret: users place processes in them).
    public func pools(by caller: Caller) async throws -> [NodePool] {
        try await store.all(NodePool.self).sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    /// The pool a reference names: its id or its name.
    public func pool(_ reference: String, by caller: Caller) async throws -> NodePool {
        try await Self.find(reference, in: store)
    }

    static func find(_ reference: String, in store: any Store) async throws -> NodePool {
        try References.resolve(reference, in: try await store.all(NodePool.self), what: "pool", key: { [$0.id, $0.name] },
                               prefix: { $0.id }, label: { $0.name })
    }

    @discardableResult
    public func create(named name: String, by caller: Caller) async throws -> NodePool {
        try caller.requireAdmin(to: "create node pools")
        let name = try await checkPoolName(name, except: nil)
        let pool: NodePool
        do {
            pool = try await store.insert(NodePool(name: name))
        } catch StoreError.duplicate(.nodePool, field: "name", _) {
            throw NodeError.poolNameTaken(name)  // another creation at the same time got it
        }
        await store.audit(AuditEvent(actor: caller.name, action: "pool.created", target: pool.id, detail: name), logger: logger)
        notifications.publish(.entity(.nodePool, id: pool.id, change: .added))
        return pool
    }

    @discardableResult
    public func rename(_ reference: String, to name: String, by caller: Caller) async throws -> NodePool {
        try caller.requireAdmin(to: "rename node pools")
        var pool = try await Self.find(reference, in: store)
        pool.name = try await checkPoolName(name, except: pool.id)
        let renamed: NodePool
        do {
            renamed = try await store.update(pool)
        } catch StoreError.duplicate(.nodePool, field: "name", _) {
            throw NodeError.poolNameTaken(pool.name)
        }
        notifications.publish(.entity(.nodePool, id: pool.id, change: .modified))
        return renamed
    }

    /// Deletes a pool. A pool with nodes is refused unless `moveTo` names the pool they go to;
    /// returns the label changes queued for the moved nodes.
    @discardableResult
    public func delete(_ reference: String, moveTo destination: String? = nil, by caller: Caller) async throws
        -> [PendingChange]
    {
        try caller.requireAdmin(to: "delete node pools")
        let pool = try await Self.find(reference, in: store)
        let members = try await store.all(Node.self, .where("nodePoolId", is: pool.id))
        var moves: [PendingChange] = []
        if !members.isEmpty {
            guard let destination else {
                throw NodeError.poolNotEmpty(pool: pool.name, nodes: members.map(\.name))
            }
            let target = try await Self.find(destination, in: store)
            guard target.id != pool.id else { throw NodeError.moveToSelf(pool.name) }
            for member in members {
                moves.append(try await nodes.classifyPublic(member.id, pool: target.id, by: caller))
            }
        }
        _ = try await store.delete(NodePool.self, id: pool.id, revision: nil)
        await store.audit(AuditEvent(actor: caller.name, action: "pool.deleted", target: pool.id, detail: pool.name),
                          logger: logger)
        notifications.publish(.entity(.nodePool, id: pool.id, change: .deleted))
        return moves
    }

    private func checkPoolName(_ name: String, except id: String?) async throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 64 else { throw NodeError.invalidPoolName(name) }
        if try await store.all(NodePool.self).contains(where: {
            $0.id != id && $0.name.caseInsensitiveCompare(trimmed) == .orderedSame
        }) {
            throw NodeError.poolNameTaken(trimmed)
        }
        return trimmed
    }
}
