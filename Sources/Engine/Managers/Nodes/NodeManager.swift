import Foundation
import Logging

/// The swarm's nodes as defpi classifies them.
///
/// Docker is the truth for what a node *is* (hostname, status, architecture, availability,
/// role); the store is the truth for what defpi *makes of it* (kind, name, pool, owner). The
/// classification is also written to the node's Docker labels (`org.defpi.*`) through the
/// pending-change queue, so placement constraints and `docker node inspect` see it.
public final class NodeManager: Sendable {
    let store: any Store
    let docker: DockerClient
    private let queue: PendingChangeManager
    private let users: UserManager
    let nodeSync: NodeSync
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.nodes")

    init(store: any Store, docker: DockerClient, queue: PendingChangeManager, users: UserManager,
         notifications: EngineNotifications) {
        self.store = store
        self.docker = docker
        self.queue = queue
        self.users = users
        self.notifications = notifications
        nodeSync = NodeSync(store: store, docker: docker, queue: queue, notifications: notifications)
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
    /// A user looks only among the nodes they see, so no answer (not even "matches several")
    /// names another user's private node.
    public func node(_ reference: String, by caller: Caller) async throws -> Node {
        try await find(reference, among: { caller.maySee($0) })
    }

    private func find(_ reference: String, among visible: (Node) -> Bool = { _ in true }) async throws -> Node {
        try References.resolve(reference, in: try await store.all(Node.self).filter(visible), what: "node",
                               key: { [$0.id, $0.dockerId, $0.name, $0.hostname] }, prefix: { $0.dockerId }, label: { $0.name })
    }

    /// The `org.defpi.*` labels the node carries in Docker now.
    public func dockerLabels(of node: Node) async throws -> [String: String] {
        try await docker.node(node.dockerId).spec.labels.filter { $0.key.hasPrefix(NodeLabels.namespace) }
    }

    /// A full sync of the store with the swarm (see `NodeSync`); verbs run one before they list.
    @discardableResult
    public func sync() async throws -> NodeSync.Summary { try await nodeSync.run() }

    // MARK: Classifying

    /// Makes a node public, in `pool`; `name` renames it at the same time.
    @discardableResult
    public func classifyPublic(_ reference: String, pool poolReference: String, name: String? = nil,
                               by caller: Caller) async throws -> PendingChange {
        try caller.requireAdmin(to: "classify nodes")
        let pool = try await PoolManager.find(poolReference, in: store)
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
        try await checkOwnerLeaves(node, updated)
        var intent = StoreBatch()
        intent.update(updated)
        let queued = try await queue.enqueue(try NodeLabelsStep.change(for: updated, summary: summary, by: caller.name),
                                             with: intent)
        notifications.publish(.entity(.node, id: node.id, change: .modified))
        await store.audit(AuditEvent(actor: caller.name, action: "node.classified", target: node.id,
                                     detail: "\(node.name): \(summary)"), logger: logger)
        return queued
    }

    /// A private node stays its owner's while their processes run on it (or are placed on it):
    /// it is neither declassified nor made public nor given to another user under them, unless
    /// each has a move elsewhere under way (`ProcessManager.evacuate`).
    private func checkOwnerLeaves(_ node: Node, _ updated: Node) async throws {
        guard node.kind == .private, let owner = node.userId, updated.kind != .private || updated.userId != owner else { return }
        let theirs = try await store.all(ServiceProcess.self, .where("userId", is: owner))
            .filter { $0.state != .terminated && ($0.privateNodeId == node.id || $0.runningNodeId == node.id) }
            .filter { $0.relocation.map { $0.placement == .privateNode(node.id) } ?? true }
        guard theirs.isEmpty else {
            throw NodeError.ownerStillRuns(node: node.name, processes: theirs.map(\.name).sorted())
        }
    }

    private func checkName(_ name: String, of node: Node) async throws {
        guard !name.isEmpty, name.count <= 64 else { throw NodeError.invalidName(name) }
        let others = try await store.all(Node.self).filter { $0.id != node.id }
        if let clash = others.first(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) {
            throw NodeError.nameTaken(name: name, by: clash.dockerId)
        }
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
    /// The identity of the store whose classification the labels carry (`Store.identity`).
    /// Labels without it were written by a defpi before store identities: they count as ours.
    public static let store = "org.defpi.store"

    /// The store other than `ours` whose classification `labels` carry, if any.
    static func otherStore(in labels: [String: String], than ours: String) -> String? {
        guard let marked = labels[store], marked != ours else { return nil }
        return marked
    }
}

/// Why a node or pool operation was refused.
public enum NodeError: UserFacingError, Equatable {
    case invalidName(String)
    case nameTaken(name: String, by: String)
    case invalidPoolName(String)
    case poolNameTaken(String)
    case poolNotEmpty(pool: String, nodes: [String])
    case moveToSelf(String)
    case ownerStillRuns(node: String, processes: [String])

    public var failureKind: FailureKind {
        switch self {
        case .invalidName, .invalidPoolName, .moveToSelf: return .invalidRequest
        case .nameTaken, .poolNameTaken, .poolNotEmpty, .ownerStillRuns: return .conflict
        }
    }

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
        case .ownerStillRuns(let node, let processes):
            return "\(node) is private to the owner of processes \(processes.joined(separator: ", ")), which run there; "
                + "move them (`defpi process move PROCESS --node|--pool`, or all at once with --move-to NODE|POOL) or terminate them first"
        }
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
