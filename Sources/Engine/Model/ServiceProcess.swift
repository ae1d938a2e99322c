import Foundation

/// A process: one running instance of a service version, owned by a user, placed on a pool or a private
/// node, with its own configuration.
public struct ServiceProcess: Entity {
    public static let collection = EntityCollection.process

    public var id: String
    public var revision: Int
    public var name: String
    public var userId: String
    public var serviceId: String
    /// The service version (image tag group) deployed.
    public var serviceVersion: String
    /// Placement target: a pool of public nodes ...
    public var nodePoolId: String?
    /// ... or one private node of the owner ...
    public var privateNodeId: String?
    /// ... or one public node; none of the three: any node the owner may use.
    public var publicNodeId: String?
    /// Secret the process presents (`X-Auth-Token`) when it calls back.
    @Secret public var token: String
    public var state: ProcessState
    /// What Docker reports wrong with the process's task (an image that cannot be pulled, a
    /// container that keeps failing, its node down); nil while all is well.
    public var problem: String?
    /// The swarm service id.
    public var dockerId: String?
    /// The defpi node the process was placed on.
    public var runningNodeId: String?
    /// Configuration of this process alone, as the process has applied it.
    public var configuration: [ProcessParameter]
    /// A configuration asked for and not yet acknowledged by the process; nil when none waits.
    public var pendingConfiguration: [ProcessParameter]?
    /// 0 = unlimited.
    public var maxMemoryBytes: Int64
    /// 0 = unlimited.
    public var maxNanoCPUs: Int64
    public var mountPoints: [MountPoint]
    public var exposePorts: [ExposePort]
    /// 0 = off.
    public var debuggingPort: Int
    public var suspendOnDebug: Bool
    /// An upgrade, downgrade or move under way, with how far it has got; nil otherwise.
    public var relocation: Relocation?
    /// What the process returned when it was last suspended: sent back (`ResumeProcessMessage`)
    /// when it starts again, instead of its configuration.
    @Secret public var suspendedState: Data?
    /// The largest state a process may save when it suspends: well inside what a stored document
    /// may hold (16 MiB in MongoDB). A larger one is refused before anything moves.
    public static let maximumStateBytes = 8 << 20
    public var created: Date?

    public init(id: String = ObjectID.generate(), revision: Int = 0, name: String, userId: String, serviceId: String,
                serviceVersion: String, placement: PlacementTarget, token: String = UUID().uuidString.lowercased(),
                state: ProcessState = .starting, dockerId: String? = nil, runningNodeId: String? = nil,
                configuration: [ProcessParameter] = [], maxMemoryBytes: Int64 = 0, maxNanoCPUs: Int64 = 0,
                mountPoints: [MountPoint] = [], exposePorts: [ExposePort] = [], debuggingPort: Int = 0,
                suspendOnDebug: Bool = false, created: Date? = Date()) {
        self.id = id
        self.revision = revision
        self.name = name
        self.userId = userId
        self.serviceId = serviceId
        self.serviceVersion = serviceVersion
        self.token = token
        self.state = state
        self.dockerId = dockerId
        self.runningNodeId = runningNodeId
        self.configuration = configuration
        self.maxMemoryBytes = maxMemoryBytes
        self.maxNanoCPUs = maxNanoCPUs
        self.mountPoints = mountPoints
        self.exposePorts = exposePorts
        self.debuggingPort = debuggingPort
        self.suspendOnDebug = suspendOnDebug
        self.created = created
        self.placement = placement
    }

    /// Where the process may run, derived from `nodePoolId`, `privateNodeId` and `publicNodeId`.
    public var placement: PlacementTarget {
        get {
            if let pool = nodePoolId { return .pool(pool) }
            if let node = privateNodeId { return .privateNode(node) }
            if let node = publicNodeId { return .publicNode(node) }
            return .automatic
        }
        set {
            (nodePoolId, privateNodeId, publicNodeId) = (nil, nil, nil)
            switch newValue {
            case .pool(let pool): nodePoolId = pool
            case .privateNode(let node): privateNodeId = node
            case .publicNode(let node): publicNodeId = node
            case .automatic: break
            }
        }
    }
}

/// Where a process may be placed.
public enum PlacementTarget: Codable, Sendable, Hashable {
    /// Any ready node of this pool of public nodes.
    case pool(String)
    /// This private node of the owner.
    case privateNode(String)
    /// This public node.
    case publicNode(String)
    /// Any node the owner may use: their private nodes and every public node.
    case automatic
}

/// The lifecycle states of a process, with the original's names.
///
/// The original's five, plus what Docker tells: `FAILING` while the task cannot start or keeps
/// failing (`problem` says why), `NODE_DOWN` while the node it runs on is down.
public enum ProcessState: String, FallbackDecodable, Sendable, CaseIterable {
    case starting = "STARTING"
    case initializing = "INITIALIZING"
    case running = "RUNNING"
    case suspended = "SUSPENDED"
    case terminated = "TERMINATED"
    case failing = "FAILING"
    case nodeDown = "NODE_DOWN"
    public static let fallback = ProcessState.starting
}

/// One `key=value` pair of a process's configuration.
public struct ProcessParameter: Codable, Sendable, Hashable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A host path, a volume or a memory file system mounted into a process's container.
public struct MountPoint: Codable, Sendable, Hashable {
    /// A host path (`bind`), a volume's name (`volume`: the owner's own, see `ProcessServiceSpec`),
    /// or empty (`tmpfs`).
    public var source: String
    public var target: String
    /// nil: bind for an absolute source, volume otherwise.
    public var type: MountType?
    /// Mounted read-only; nil: read-write.
    public var readOnly: Bool?
    /// A tmpfs mount's size in bytes.
    public var sizeBytes: Int64?

    public init(source: String, target: String, type: MountType? = nil, readOnly: Bool? = nil, sizeBytes: Int64? = nil) {
        self.source = source
        self.target = target
        self.type = type
        self.readOnly = readOnly
        self.sizeBytes = sizeBytes
    }

    /// The type, inferred when none was given.
    public var resolvedType: MountType { type ?? (source.hasPrefix("/") ? .bind : .volume) }
}

/// How a mount point is attached: a closed set, so an unknown type is an error, never a bind.
public enum MountType: String, Codable, Sendable, CaseIterable {
    case bind
    case volume
    case tmpfs
}

/// A container port published on the node's host network.
public struct ExposePort: Codable, Sendable, Hashable {
    public var `internal`: Int
    public var external: Int

    public init(internal: Int, external: Int) {
        self.internal = `internal`
        self.external = external
    }
}
