import Foundation

/// A swarm node as defpi sees it: discovered from Docker, then classified by an admin.
public struct Node: Entity {
    public static let collection = EntityCollection.node

    public var id: String
    public var revision: Int
    public var kind: NodeKind
    /// Human-readable name; defaults to the hostname when the node is classified.
    public var name: String
    /// The swarm node id.
    public var dockerId: String
    public var hostname: String
    /// When the fields below were last refreshed from Docker.
    public var lastSync: Date?
    public var status: NodeStatus
    public var architecture: Architecture
    public var availability: NodeAvailability
    public var role: NodeRole
    /// The pool of a public node; nil otherwise.
    public var nodePoolId: String?
    /// The owner of a private node; nil otherwise.
    public var userId: String?
    /// Host paths its owner may mount while it is private (`HostPathManager`); nil: none.
    public var hostPaths: [HostPathGrant]?

    public init(id: String = ObjectID.generate(), revision: Int = 0, kind: NodeKind = .unidentified, name: String? = nil,
                dockerId: String, hostname: String, lastSync: Date? = nil, status: NodeStatus = .unknown,
                architecture: Architecture = .unknown, availability: NodeAvailability = .active,
                role: NodeRole = .worker, nodePoolId: String? = nil, userId: String? = nil) {
        self.id = id
        self.revision = revision
        self.kind = kind
        self.name = name ?? hostname
        self.dockerId = dockerId
        self.hostname = hostname
        self.lastSync = lastSync
        self.status = status
        self.architecture = architecture
        self.availability = availability
        self.role = role
        self.nodePoolId = nodePoolId
        self.userId = userId
    }
}

/// The three categories of nodes. Only public and private nodes take processes.
public enum NodeKind: String, FallbackDecodable, Sendable, CaseIterable {
    case unidentified = "UNIDENTIFIED"
    case `public` = "PUBLIC"
    case `private` = "PRIVATE"
    public static let fallback = NodeKind.unidentified
}

/// Node health as Docker reports it, plus `missing` for a node that left the swarm.
public enum NodeStatus: String, FallbackDecodable, Sendable, CaseIterable {
    case missing = "MISSING"
    case unknown = "UNKNOWN"
    case down = "DOWN"
    case ready = "READY"
    case disconnected = "DISCONNECTED"
    public static let fallback = NodeStatus.unknown
}

/// CPU architecture of a node or an image.
public enum Architecture: String, FallbackDecodable, Sendable, CaseIterable, CodingKeyRepresentable {
    case x86_64 = "X86_64"
    case arm64 = "ARM64"
    case arm = "ARM"
    case unknown = "UNKNOWN"
    public static let fallback = Architecture.unknown

    /// Maps the names Docker and the registry use (`x86_64`, `amd64`, `aarch64`, `arm64`,
    /// `armv7l`, `arm` ...) to a case; anything else is `unknown`.
    public init(platformName: String) {
        switch platformName.lowercased() {
        case "x86_64", "amd64", "x86-64": self = .x86_64
        case "aarch64", "arm64", "armv8", "arm64v8": self = .arm64
        case let name where name.hasPrefix("arm"): self = .arm
        default: self = .unknown
        }
    }
}

/// Whether the swarm schedules new tasks on a node.
public enum NodeAvailability: String, FallbackDecodable, Sendable, CaseIterable {
    case active = "ACTIVE"
    case pause = "PAUSE"
    case drain = "DRAIN"
    case unknown = "UNKNOWN"
    public static let fallback = NodeAvailability.unknown
}

/// A node's role in the swarm.
public enum NodeRole: String, FallbackDecodable, Sendable, CaseIterable {
    case manager = "MANAGER"
    case worker = "WORKER"
    case unknown = "UNKNOWN"
    public static let fallback = NodeRole.unknown
}

/// A named group of public nodes that any user may place processes on.
public struct NodePool: Entity {
    public static let collection = EntityCollection.nodePool

    public var id: String
    public var revision: Int
    /// Must not be empty.
    public var name: String
    /// Host paths tenants may mount on its nodes (`HostPathManager`); nil: none.
    public var hostPaths: [HostPathGrant]?

    public init(id: String = ObjectID.generate(), revision: Int = 0, name: String) {
        self.id = id
        self.revision = revision
        self.name = name
    }
}
