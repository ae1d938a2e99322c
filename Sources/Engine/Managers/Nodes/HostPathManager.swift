import Foundation
import Logging

/// A host path or device (a smart meter's serial port) that tenants may mount where an admin
/// allowed it: on one private node, or on every node of a pool.
public struct HostPathGrant: Codable, Sendable, Hashable {
    public var path: String
    /// Tenants may mount it read-write; otherwise only read-only.
    public var writable: Bool

    public init(path: String, writable: Bool = false) {
        self.path = path
        self.writable = writable
    }

    /// `/dev/ttyUSB0 (ro), /srv/shared (rw)`; nil for no grants.
    public static func list(_ grants: [HostPathGrant]?) -> String? {
        guard let grants, !grants.isEmpty else { return nil }
        return grants.map { "\($0.path) (\($0.writable ? "rw" : "ro"))" }.joined(separator: ", ")
    }
}

/// What holds host path grants: a node or a pool.
protocol HostPathHolder: Entity {
    var hostPaths: [HostPathGrant]? { get set }
}

extension Node: HostPathHolder {}
extension NodePool: HostPathHolder {}

/// Where host paths are allowed: a node (it counts while the node is private) or a pool.
public enum HostPathPlace: Sendable, Equatable {
    case node(String)
    case pool(String)
}

/// What an admin changes of a place's host paths.
public enum HostPathChange: Sendable, Equatable {
    /// Allows a path (again, with this `writable`).
    case allow(HostPathGrant)
    /// Takes a path back; processes that mount it keep it until they are deployed again.
    case deny(String)
    /// Replaces every grant (the REST API's `PUT`).
    case replace([HostPathGrant])
}

/// Which host paths tenants may mount, and where: as Kubernetes' allowedHostPaths, per private
/// node or pool rather than cluster-wide, read-only unless said otherwise. Admins set them;
/// whoever may see the node or pool may read them; `ProcessManager` checks every tenant's bind
/// mount against those of the process's placement.
public final class HostPathManager: Sendable {
    /// At most this many grants per node or pool.
    public static let maximumGrants = 32
    static let maximumPathLength = 256

    private let store: any Store
    private let nodes: NodeManager
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.nodes")

    init(store: any Store, nodes: NodeManager, notifications: EngineNotifications) {
        self.store = store
        self.nodes = nodes
        self.notifications = notifications
    }

    /// The grants of a node or pool `caller` may see.
    public func grants(_ place: HostPathPlace, by caller: Caller) async throws -> [HostPathGrant] {
        switch place {
        case .node(let reference): return try await nodes.node(reference, by: caller).hostPaths ?? []
        case .pool(let reference): return try await PoolManager.find(reference, in: store).hostPaths ?? []
        }
    }

    /// Applies `change` to a node's or pool's grants; admins only. Returns the grants as stored.
    @discardableResult
    public func edit(_ place: HostPathPlace, _ change: HostPathChange, by caller: Caller) async throws -> [HostPathGrant] {
        try caller.requireAdmin(to: "allow host paths")
        let wanted: [HostPathGrant]
        switch change {
        case .allow(let grant): try Self.check(grant.path); wanted = [grant]
        case .replace(let grants): try grants.forEach { try Self.check($0.path) }; wanted = grants
        case .deny: wanted = []
        }
        func apply(_ current: [HostPathGrant]?) -> [HostPathGrant] {
            let kept = (current ?? []).filter { grant in
                switch change {
                case .allow(let new): return grant.path != new.path
                case .deny(let path): return grant.path != path
                case .replace: return false
                }
            }
            // One grant per path: the last one given wins.
            var seen = Set<String>()
            return (kept + wanted).reversed().filter { seen.insert($0.path).inserted }.reversed()
        }
        let (id, stored) = switch place {
        case .node(let reference): try await edit(Node.self, id: try await nodes.node(reference, by: caller).id, apply)
        case .pool(let reference): try await edit(NodePool.self, id: try await PoolManager.find(reference, in: store).id, apply)
        }
        await store.audit(AuditEvent(actor: caller.name, action: "hostpath.changed", target: id,
                                     detail: HostPathGrant.list(stored) ?? "no host paths"), logger: logger)
        return stored
    }

    /// Applies `apply` to the grants of the node or pool `id`, over its latest stored version;
    /// refused beyond `maximumGrants`. Returns the id and the grants as stored.
    private func edit<Holder: HostPathHolder>(_ type: Holder.Type, id: String, _ apply: ([HostPathGrant]?) -> [HostPathGrant])
        async throws -> (String, [HostPathGrant])
    {
        guard let current = try await store.fetch(Holder.self, id: id) else { throw LookupError.notFound(what: "node or pool", reference: id) }
        guard apply(current.hostPaths).count <= Self.maximumGrants else { throw HostPathError.tooMany }
        let stored = try await EntityRecord<Holder>(store: store, notifications: notifications).update(id) { $0.hostPaths = apply($0.hostPaths) }
        return (id, stored.hostPaths ?? [])
    }

    /// The grants that hold for a process placed at `target`: its private node's, its pool's
    /// (or, on one public node, that node's pool's); none when defpi chooses the node.
    func grants(for target: PlacementTarget) async throws -> [HostPathGrant] {
        switch target {
        case .privateNode(let id):
            let node = try await store.fetch(Node.self, id: id)
            return node?.kind == .private ? node?.hostPaths ?? [] : []
        case .pool(let id):
            return try await store.fetch(NodePool.self, id: id)?.hostPaths ?? []
        case .publicNode(let id):
            guard let pool = try await store.fetch(Node.self, id: id)?.nodePoolId else { return [] }
            return try await store.fetch(NodePool.self, id: pool)?.hostPaths ?? []
        case .automatic:
            return []
        }
    }

    /// An absolute path other than `/`, without `..`, and without the `:` and `,` of mount syntax.
    static func check(_ path: String) throws {
        let parts = path.split(separator: "/")
        guard path.hasPrefix("/"), !parts.isEmpty, !parts.contains(".."), path.count <= maximumPathLength,
              !path.contains(where: { $0 == ":" || $0 == "," || $0 == "\0" || $0.isNewline }) else {
            throw HostPathError.invalidPath(String(path.prefix(80)))
        }
    }
}

/// Why a host path grant was refused.
public enum HostPathError: UserFacingError, Equatable {
    case invalidPath(String)
    case tooMany

    public var failureKind: FailureKind { .invalidRequest }

    public var userMessage: String {
        switch self {
        case .invalidPath(let path):
            return "\(path) is not a host path to allow: an absolute path other than /, without .., : or ,"
        case .tooMany:
            return "a node or pool allows at most \(HostPathManager.maximumGrants) host paths; deny one first"
        }
    }
}
