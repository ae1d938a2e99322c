import Foundation
import Logging

/// Writes a node's classification to its Docker labels (`org.defpi.*`), so placement
/// constraints and `docker node inspect` see it. Re-reads the node when it runs, so the latest
/// classification wins whichever change carries it. Labels another store wrote stay while the
/// node is unidentified here, and a repair queued by the sync never replaces them; an operator's
/// classification here takes the node over.
struct NodeLabelsStep: ChangeStep {
    struct Payload: Codable, Sendable {
        var nodeId: String
        /// Whether the write may replace another store's labels: an operator's classification
        /// may, a repair may not. Absent (a change queued by an earlier defpi): it may.
        var takeOver: Bool?
    }

    static let kind: PendingChangeKind = "NODE_LABELS"

    let store: any Store
    let docker: DockerClient
    private let logger = Logger(label: "defpi.nodes")

    init(store: any Store, docker: DockerClient) {
        self.store = store
        self.docker = docker
    }

    /// The change that brings `node`'s labels in line, queued by `actor`; with `takeOver`, even
    /// over another store's labels.
    static func change(for node: Node, summary: String, by actor: String, takeOver: Bool = true) throws -> PendingChange {
        try PendingChange(Self.self, Payload(nodeId: node.id, takeOver: takeOver), description: "node \(node.name): \(summary)",
                          resources: [node.id], createdBy: actor)
    }

    /// The `org.defpi.*` labels a node classified in the store `identity` carries in Docker;
    /// none while it is unidentified.
    static func labels(of node: Node, store identity: String) -> [String: String] {
        guard node.kind != .unidentified else { return [:] }
        var labels = [NodeLabels.kind: node.kind.rawValue.lowercased(), NodeLabels.name: node.name, NodeLabels.store: identity]
        if let pool = node.nodePoolId { labels[NodeLabels.pool] = pool }
        if let owner = node.userId { labels[NodeLabels.owner] = owner }
        return labels
    }

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        guard let node = try await store.fetch(Node.self, id: payload.nodeId) else {
            throw ChangeObsolete.missing("the node is no longer known to defpi")
        }
        for attempt in 1...3 {
            let dockerNode: DockerNode
            do {
                dockerNode = try await docker.node(node.dockerId)
            } catch DockerError.notFound {
                throw ChangeObsolete("node \(node.name) (\(node.dockerId.prefix(12))) has left the swarm")
            }
            let wanted = Self.labels(of: node, store: store.identity)
            if let other = NodeLabels.otherStore(in: dockerNode.spec.labels, than: store.identity),
               wanted.isEmpty || payload.takeOver == false {
                logger.info("node \(node.name): its labels are another defpi store's (\(other)); leaving them")
                return
            }
            var spec = dockerNode.spec
            spec.labels = spec.labels.filter { !$0.key.hasPrefix(NodeLabels.namespace) }.merging(wanted) { _, ours in ours }
            if spec == dockerNode.spec { return }
            try lease.check()
            do {
                try await docker.updateNode(node.dockerId, version: dockerNode.version, spec: spec)
                CrashPoint.labelsWritten.reached()
                return
            } catch DockerError.conflict where attempt < 3 {
                logger.debug("node \(node.dockerId) changed while writing labels; reading it again")
            }
        }
    }
}
