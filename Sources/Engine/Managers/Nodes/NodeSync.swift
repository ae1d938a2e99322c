import Foundation
import Logging

/// Keeps the stored nodes in line with the swarm. Docker is the truth for what a node *is*
/// (hostname, status, architecture, availability, role): a full sync runs on every (re)connect of
/// the event stream and periodically, and a node event refreshes its node. The sync also repairs
/// drift between a node's classification and its Docker labels.
public actor NodeSync {
    private let store: any Store
    private let docker: DockerClient
    private let queue: PendingChangeManager
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.nodes")
    /// The full sync running now; concurrent callers join it instead of racing it.
    private var syncInFlight: Task<Summary, Error>?
    /// Nodes already reported as labelled by another store (reported once per engine).
    private var reportedForeign: Set<String> = []

    init(store: any Store, docker: DockerClient, queue: PendingChangeManager, notifications: EngineNotifications) {
        self.store = store
        self.docker = docker
        self.queue = queue
        self.notifications = notifications
    }

    /// What a full sync changed.
    public struct Summary: Sendable, Equatable {
        public var added = 0, updated = 0, missing = 0, removed = 0
        /// Nodes whose Docker labels differed from their classification, with no label write
        /// queued: one is queued now.
        public var repaired = 0
        /// The names of the nodes whose labels another defpi store wrote: left alone.
        public var foreign: [String] = []
        public init() {}
    }

    /// Reconciles the store with the swarm: new swarm nodes become unidentified nodes, known
    /// nodes take Docker's facts, classified nodes gone from the swarm become `missing`, and
    /// unidentified ones gone are removed. One sync runs at a time; callers meanwhile join it.
    @discardableResult
    func run() async throws -> Summary {
        if let syncInFlight { return try await syncInFlight.value }
        let task = Task { try await self.reconcile() }
        syncInFlight = task
        defer { syncInFlight = nil }
        return try await task.value
    }

    private func reconcile() async throws -> Summary {
        let swarm = try await docker.nodes()
        let stored = try await store.all(Node.self)
        let now = Date()
        var summary = Summary()
        let storedByDockerId = Dictionary(stored.map { ($0.dockerId, $0) }, uniquingKeysWith: { first, _ in first })
        for dockerNode in swarm {
            if let node = storedByDockerId[dockerNode.id] {
                if try await save(node, applying: dockerNode, now: now) { summary.updated += 1 }
                switch try await repairLabels(of: node, in: dockerNode) {
                case .inLine: break
                case .repaired: summary.repaired += 1
                case .foreign: summary.foreign.append(node.name)
                }
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
    func refresh(dockerId: String) async throws {
        guard let stored = try await store.first(Node.self, .where("dockerId", is: dockerId)) else {
            try await run()
            return
        }
        do {
            try await save(stored, applying: try await docker.node(dockerId), now: Date())
        } catch DockerError.notFound {
            try await run()
        }
    }

    private enum LabelCheck { case inLine, repaired, foreign }

    /// Queues a label write when the node's `org.defpi.*` labels in Docker differ from its stored
    /// classification and none is waiting: whatever crashed in between, the two converge. Labels
    /// another store wrote are not drift but that store's: two stores on one swarm would
    /// otherwise undo each other's classifications for ever.
    private func repairLabels(of node: Node, in dockerNode: DockerNode) async throws -> LabelCheck {
        let current = dockerNode.spec.labels.filter { $0.key.hasPrefix(NodeLabels.namespace) }
        if let other = NodeLabels.otherStore(in: current, than: store.identity) {
            if reportedForeign.insert(node.id).inserted {
                logger.warning("""
                    node \(node.name): its Docker labels carry another defpi store's classification (store \(other)); \
                    leaving them. Two stores on one swarm is likely a mistake; classify the node here to take it over.
                    """)
            }
            return .foreign
        }
        reportedForeign.remove(node.id)
        guard current != NodeLabelsStep.labels(of: node, store: store.identity),
              try await queue.openChange(of: NodeLabelsStep.kind, on: node.id, states: PendingChangeState.open) == nil else {
            return .inLine
        }
        logger.info("node \(node.name): Docker labels differ from its classification; queueing a label write")
        try await queue.enqueue(try NodeLabelsStep.change(for: node, summary: "labels repaired", by: "defpi", takeOver: false))
        return .repaired
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

