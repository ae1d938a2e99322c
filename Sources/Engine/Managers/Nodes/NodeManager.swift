import Foundation
import Logging

/// The swarm's nodes as defpi classifies them, and the node pools.
///
/// Docker is the truth for what a node *is* (hostname, status, architecture, availability,
/// role); the store is the truth for what defpi *makes of it* (kind, name, pool, owner). The
/// classification is also written to the node's Docker labels (`org.defpi.*`) through the
/// pending-change queue, so placement constraints and `docker node inspect` see it.
public actor NodeManager {
    let store: any Store
    let docker: DockerClient
    private let queue: PendingChangeManager
    private let users: UserManager
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.nodes")
    /// The full sync running now; concurrent callers join it instead of racing it.
    private var syncInFlight: Task<SyncSummary, Error>?

    init(store: any Store, docker: DockerClient, queue: PendingChangeManager, users: UserManager,
         notifications: EngineNotifications) {
        self.store = store
        self.docker = docker
        self.queue = queue
        self.users = users
        self.notifications = notifications
        queue.register(NodeLabelsStep(store: store, docker: docker))
    }

    // MARK: Reading

    /// The nodes `caller` may see, unidentified first, then by name: every node for an admin;
    /// public nodes and their own private nodes for a user.
    public func nodes(by caller: Caller) async throws -> [Node] {
        try await store.all(Node.self).filter { caller.maySee($0) }
            .sorted { ($0.kind.order, $0.name) < ($1.kind.order, $1.name) }
    }

    /// The node a reference names, if `caller` may see it: its id, its swarm id (or a unique
    /// prefix of it), its name or its hostname.
    public func node(_ reference: String, by caller: Caller) async throws -> Node {
        let node = try await find(reference)
        guard caller.maySee(node) else { throw LookupError.notFound(what: "node", reference: reference) }
        return node
    }

    private func find(_ reference: String) async throws -> Node {
        try References.resolve(reference, in: try await store.all(Node.self), what: "node",
                               key: { [$0.id, $0.dockerId, $0.name, $0.hostname] }, prefix: { $0.dockerId }, label: { $0.name })
    }

    /// The `org.defpi.*` labels the node carries in Docker now.
    public func dockerLabels(of node: Node) async throws -> [String: String] {
        try await docker.node(node.dockerId).spec.labels.filter { $0.key.hasPrefix(NodeLabels.namespace) }
    }

    /// Every pool, by name (pool names are no secret: users place processes in them).
    public func pools(by caller: Caller) async throws -> [NodePool] {
        try await store.all(NodePool.self).sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    /// The pool a reference names: its id or its name.
    public func pool(_ reference: String, by caller: Caller) async throws -> NodePool {
        try await pool(reference)
    }

    private func pool(_ reference: String) async throws -> NodePool {
        try References.resolve(reference, in: try await store.all(NodePool.self), what: "pool", key: { [$0.id, $0.name] },
                               prefix: { $0.id }, label: { $0.name })
    }

    // MARK: Syncing from Docker

    /// What a full sync changed.
    public struct SyncSummary: Sendable, Equatable {
        public var added = 0, updated = 0, missing = 0, removed = 0
        /// Nodes whose Docker labels differed from their classification, with no label write
        /// queued: one is queued now.
        public var repaired = 0
        public init() {}
    }

    /// Reconciles the store with the swarm: new swarm nodes become unidentified nodes, known
    /// nodes take Docker's facts, classified nodes gone from the swarm become `missing`, and
    /// unidentified ones gone are removed. One sync runs at a time; callers meanwhile join it.
    @discardableResult
    public func sync() async throws -> SyncSummary {
        if let syncInFlight { return try await syncInFlight.value }
        let task = Task { try await self.reconcile() }
        syncInFlight = task
        defer { syncInFlight = nil }
        return try await task.value
    }

    private func reconcile() async throws -> SyncSummary {
        let swarm = try await docker.nodes()
        let stored = try await store.all(Node.self)
        let now = Date()
        var summary = SyncSummary()
        let storedByDockerId = Dictionary(stored.map { ($0.dockerId, $0) }, uniquingKeysWith: { first, _ in first })
        for dockerNode in swarm {
            if let node = storedByDockerId[dockerNode.id] {
                if try await save(node, applying: dockerNode, now: now) { summary.updated += 1 }
                if try await repairLabels(of: node, in: dockerNode) { summary.repaired += 1 }
            } else {
                try await add(dockerNode, now: now)
                summary.added += 1
            }
        }
        let present = Set(swarm.map(\.id))
        for node in stored where !present.contains(node.dockerId) {
            if node.kind == .unidentified {
                if try await store.delete(Node.self, id: node.id, revision: nil) {
                    notifications.publish(.entity(.node, id: node.id, change: .deleted))
                    summary.removed += 1
                }
            } else if node.status != .missing {
                var missing = node
                missing.status = .missing
                missing.lastSync = now
                try await update(missing)
                summary.missing += 1
            }
        }
        return summary
    }

    /// Refreshes one node after a Docker event about it; a node defpi does not know yet, or one
    /// that left the swarm, takes a full sync.
    public func refresh(dockerId: String) async throws {
        guard let stored = try await store.first(Node.self, .where("dockerId", is: dockerId)) else {
            try await sync()
            return
        }
        do {
            try await save(stored, applying: try await docker.node(dockerId), now: Date())
        } catch DockerError.notFound {
            try await sync()
        }
    }

    /// Queues a label write when the node's `org.defpi.*` labels in Docker differ from its stored
    /// classification and none is waiting: whatever crashed in between, the two converge.
    private func repairLabels(of node: Node, in dockerNode: DockerNode) async throws -> Bool {
        let current = dockerNode.spec.labels.filter { $0.key.hasPrefix(NodeLabels.namespace) }
        guard current != NodeLabelsStep.labels(of: node),
              try await queue.openChange(of: NodeLabelsStep.kind, on: node.id, states: PendingChangeState.open) == nil else { return false }
        logger.info("node \(node.name): Docker labels differ from its classification; queueing a label write")
        try await queue.enqueue(try NodeLabelsStep.change(for: node, summary: "labels repaired", by: "defpi"))
        return true
    }

    private func add(_ dockerNode: DockerNode, now: Date) async throws {
        var node = Node(dockerId: dockerNode.id, hostname: dockerNode.description.hostname)
        node.apply(dockerNode, now: now)
        do {
            let inserted = try await store.insert(node)
            notifications.publish(.entity(.node, id: inserted.id, change: .added))
        } catch StoreError.duplicate {
            // Another engine added it at the same moment (the swarm id is unique in the store).
        }
    }

    /// Writes Docker's facts into `node` when they differ; returns whether it wrote.
    @discardableResult
    private func save(_ node: Node, applying dockerNode: DockerNode, now: Date) async throws -> Bool {
        var updated = node
        updated.apply(dockerNode, now: now)
        guard !updated.sameFacts(as: node) else { return false }
        do {
            try await update(updated)
        } catch StoreError.conflict {
            // Another engine wrote it meanwhile; apply the facts to its version.
            guard let latest = try await store.fetch(Node.self, id: node.id) else { return false }
            var retried = latest
            retried.apply(dockerNode, now: now)
            try await update(retried)
        }
        return true
    }

    private func update(_ node: Node) async throws {
        _ = try await store.update(node)
        notifications.publish(.entity(.node, id: node.id, change: .modified))
    }

    // MARK: Classifying

    /// Makes a node public, in `pool`; `name` renames it at the same time.
    @discardableResult
    public func classifyPublic(_ reference: String, pool poolReference: String, name: String? = nil,
                               by caller: Caller) async throws -> PendingChange {
        try caller.requireAdmin(to: "classify nodes")
        let pool = try await pool(poolReference)
        return try await reclassify(reference, by: caller, summary: "public in pool \(pool.name)") { node in
            node.kind = .public
            node.nodePoolId = pool.id
            node.userId = nil
            if let name { node.name = name }
        }
    }

    /// Makes a node private to `owner` (a username or user id); `name` renames it at the same time.
    @discardableResult
    public func classifyPrivate(_ reference: String, owner ownerReference: String, name: String? = nil,
                                by caller: Caller) async throws -> PendingChange {
        try caller.requireAdmin(to: "classify nodes")
        let owner = try await users.resolve(ownerReference)
        return try await reclassify(reference, by: caller, summary: "private to \(owner.username)") { node in
            node.kind = .private
            node.userId = owner.id
            node.nodePoolId = nil
            if let name { node.name = name }
        }
    }

    /// Makes a node unidentified again: nothing new is placed on it.
    @discardableResult
    public func declassify(_ reference: String, by caller: Caller) async throws -> PendingChange {
        try caller.requireAdmin(to: "declassify nodes")
        return try await reclassify(reference, by: caller, summary: "unidentified") { node in
            node.kind = .unidentified
            node.nodePoolId = nil
            node.userId = nil
        }
    }

    /// Gives a node a new name (unique among nodes).
    @discardableResult
    public func rename(_ reference: String, to name: String, by caller: Caller) async throws -> PendingChange {
        try caller.requireAdmin(to: "rename nodes")
        return try await reclassify(reference, by: caller, summary: "renamed to \(name)") { node in node.name = name }
    }

    /// Applies `change` to the node and stores it together with the label write that carries it
    /// to Docker.
    private func reclassify(_ reference: String, by caller: Caller, summary: String,
                            _ change: (inout Node) -> Void) async throws -> PendingChange {
        let node = try await find(reference)
        var updated = node
        change(&updated)
        updated.name = updated.name.trimmingCharacters(in: .whitespaces)
        try await checkName(updated.name, of: updated)
        var intent = StoreBatch()
        intent.update(updated)
        let queued = try await queue.enqueue(try NodeLabelsStep.change(for: updated, summary: summary, by: caller.name),
                                             with: intent)
        notifications.publish(.entity(.node, id: node.id, change: .modified))
        await record(AuditEvent(actor: caller.name, action: "node.classified", target: node.id, detail: "\(node.name): \(summary)"))
        return queued
    }

    /// Appends to the audit log; a failure is logged, the action stands.
    private func record(_ event: AuditEvent) async {
        do { try await store.record(event) } catch { logger.warning("cannot record \(event.action) in the audit log: \(error)") }
    }

    private func checkName(_ name: String, of node: Node) async throws {
        guard !name.isEmpty, name.count <= 64 else { throw NodeError.invalidName(name) }
        let others = try await store.all(Node.self).filter { $0.id != node.id }
        if let clash = others.first(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) {
            throw NodeError.nameTaken(name: name, by: clash.dockerId)
        }
    }

    // MARK: Pools

    @discardableResult
    public func createPool(named name: String, by caller: Caller) async throws -> NodePool {
        try caller.requireAdmin(to: "create node pools")
        let name = try await checkPoolName(name, except: nil)
        let pool = try await store.insert(NodePool(name: name))
        await record(AuditEvent(actor: caller.name, action: "pool.created", target: pool.id, detail: name))
        notifications.publish(.entity(.nodePool, id: pool.id, change: .added))
        return pool
    }

    @discardableResult
    public func renamePool(_ reference: String, to name: String, by caller: Caller) async throws -> NodePool {
        try caller.requireAdmin(to: "rename node pools")
        var pool = try await pool(reference)
        pool.name = try await checkPoolName(name, except: pool.id)
        let renamed = try await store.update(pool)
        notifications.publish(.entity(.nodePool, id: pool.id, change: .modified))
        return renamed
    }

    /// Deletes a pool. A pool with nodes is refused unless `moveTo` names the pool they go to;
    /// returns the label changes queued for the moved nodes.
    @discardableResult
    public func deletePool(_ reference: String, moveTo destination: String? = nil, by caller: Caller) async throws
        -> [PendingChange]
    {
        try caller.requireAdmin(to: "delete node pools")
        let pool = try await pool(reference)
        let members = try await store.all(Node.self, .where("nodePoolId", is: pool.id))
        var moves: [PendingChange] = []
        if !members.isEmpty {
            guard let destination else {
                throw NodeError.poolNotEmpty(pool: pool.name, nodes: members.map(\.name))
            }
            let target = try await self.pool(destination)
            guard target.id != pool.id else { throw NodeError.moveToSelf(pool.name) }
            for member in members {
                moves.append(try await classifyPublic(member.id, pool: target.id, by: caller))
            }
        }
        _ = try await store.delete(NodePool.self, id: pool.id, revision: nil)
        await record(AuditEvent(actor: caller.name, action: "pool.deleted", target: pool.id, detail: pool.name))
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

/// The Docker node labels defpi writes.
public enum NodeLabels {
    public static let namespace = "org.defpi."
    /// `public` or `private`; unidentified nodes carry no `org.defpi.*` label at all.
    public static let kind = "org.defpi.class"
    /// The node's defpi name.
    public static let name = "org.defpi.name"
    /// The pool id of a public node (an id, so renaming a pool does not move constraints).
    public static let pool = "org.defpi.pool"
    /// The owner's user id of a private node.
    public static let owner = "org.defpi.owner"
}

/// Why a node or pool operation was refused.
public enum NodeError: UserFacingError, Equatable {
    case invalidName(String)
    case nameTaken(name: String, by: String)
    case invalidPoolName(String)
    case poolNameTaken(String)
    case poolNotEmpty(pool: String, nodes: [String])
    case moveToSelf(String)

    public var userMessage: String {
        switch self {
        case .invalidName(let name):
            return "\"\(name)\" is not a valid node name; use 1 to 64 characters"
        case .nameTaken(let name, let dockerId):
            return "another node (\(dockerId.prefix(12))) is already named \(name); choose another name"
        case .invalidPoolName(let name):
            return "\"\(name)\" is not a valid pool name; use 1 to 64 characters"
        case .poolNameTaken(let name):
            return "a pool named \(name) exists already"
        case .poolNotEmpty(let pool, let nodes):
            return "pool \(pool) still has \(nodes.count) node(s) (\(nodes.joined(separator: ", "))); move them with --move-to POOL or declassify them first"
        case .moveToSelf(let pool):
            return "cannot move the nodes of \(pool) into \(pool) itself; name another pool"
        }
    }
}

extension Node {
    /// Takes Docker's facts about the node.
    mutating func apply(_ dockerNode: DockerNode, now: Date) {
        hostname = dockerNode.description.hostname
        status = NodeStatus(rawValue: dockerNode.status.state.uppercased()) ?? .unknown
        architecture = Architecture(platformName: dockerNode.description.architecture)
        availability = NodeAvailability(rawValue: dockerNode.spec.availability.uppercased()) ?? .unknown
        role = NodeRole(rawValue: dockerNode.spec.role.uppercased()) ?? .unknown
        if kind == .unidentified && name.isEmpty { name = hostname }
        lastSync = now
    }

    /// Whether the Docker-sourced facts equal `other`'s (ignoring `lastSync`).
    func sameFacts(as other: Node) -> Bool {
        hostname == other.hostname && status == other.status && architecture == other.architecture
            && availability == other.availability && role == other.role && name == other.name
    }
}

extension NodeKind {
    /// Listing order: unidentified nodes first, they need an admin's attention.
    var order: Int {
        switch self {
        case .unidentified: return 0
        case .public: return 1
        case .private: return 2
        }
    }
}
