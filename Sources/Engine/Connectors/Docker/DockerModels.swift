import Foundation

// The parts of the Docker Engine API's JSON that defpi reads and writes (API 1.41 and newer).
// Docker spells its keys in PascalCase; each type maps them explicitly.

/// The object version Docker's swarm API uses for optimistic concurrency on updates.
public struct DockerObjectVersion: Codable, Sendable, Equatable {
    public var index: UInt64
    enum CodingKeys: String, CodingKey { case index = "Index" }
}

/// `GET /info`, reduced to what defpi needs.
public struct DockerInfo: Decodable, Sendable {
    public var name: String
    public var serverVersion: String
    public var architecture: String?
    public var swarm: DockerSwarmInfo

    enum CodingKeys: String, CodingKey {
        case name = "Name", serverVersion = "ServerVersion", architecture = "Architecture", swarm = "Swarm"
    }
}

/// This daemon's view of the swarm it belongs to.
public struct DockerSwarmInfo: Decodable, Sendable {
    /// The swarm node id of this daemon; empty when not in a swarm.
    public var nodeID: String
    /// `inactive`, `pending`, `active`, `error` or `locked`.
    public var localNodeState: String
    /// Whether this daemon is a manager (only managers answer the swarm API).
    public var controlAvailable: Bool

    enum CodingKeys: String, CodingKey {
        case nodeID = "NodeID", localNodeState = "LocalNodeState", controlAvailable = "ControlAvailable"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        nodeID = try container.decodeIfPresent(String.self, forKey: .nodeID) ?? ""
        localNodeState = try container.decodeIfPresent(String.self, forKey: .localNodeState) ?? "inactive"
        controlAvailable = try container.decodeIfPresent(Bool.self, forKey: .controlAvailable) ?? false
    }
}

/// A swarm node (`GET /nodes`).
public struct DockerNode: Decodable, Sendable {
    public var id: String
    public var version: DockerObjectVersion
    public var spec: DockerNodeSpec
    public var description: Description
    public var status: Status

    public struct Description: Decodable, Sendable {
        public var hostname: String
        public var architecture: String
        enum CodingKeys: String, CodingKey { case hostname = "Hostname", platform = "Platform" }
        enum PlatformKeys: String, CodingKey { case architecture = "Architecture" }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            hostname = try container.decodeIfPresent(String.self, forKey: .hostname) ?? ""
            let platform = try? container.nestedContainer(keyedBy: PlatformKeys.self, forKey: .platform)
            architecture = try platform?.decodeIfPresent(String.self, forKey: .architecture) ?? ""
        }
    }

    public struct Status: Decodable, Sendable {
        /// `unknown`, `down`, `ready` or `disconnected`.
        public var state: String
        public var address: String?
        enum CodingKeys: String, CodingKey { case state = "State", address = "Addr" }
    }

    enum CodingKeys: String, CodingKey {
        case id = "ID", version = "Version", spec = "Spec", description = "Description", status = "Status"
    }
}

/// The writable part of a swarm node. Updates send the whole spec back with the version read.
public struct DockerNodeSpec: Codable, Sendable, Equatable {
    public var name: String?
    public var labels: [String: String]
    /// `worker` or `manager`.
    public var role: String
    /// `active`, `pause` or `drain`.
    public var availability: String

    enum CodingKeys: String, CodingKey {
        case name = "Name", labels = "Labels", role = "Role", availability = "Availability"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        role = try container.decodeIfPresent(String.self, forKey: .role) ?? "worker"
        availability = try container.decodeIfPresent(String.self, forKey: .availability) ?? "active"
    }
}

/// A swarm service (`GET /services/{id}`).
public struct DockerService: Decodable, Sendable {
    public var id: String
    public var version: DockerObjectVersion
    public var spec: DockerServiceSpec
    enum CodingKeys: String, CodingKey { case id = "ID", version = "Version", spec = "Spec" }
}

/// A task: one scheduled instance of a service (`GET /tasks`).
public struct DockerTask: Decodable, Sendable {
    public var id: String
    public var serviceID: String
    public var nodeID: String?
    /// `running`, `shutdown` ...: what the orchestrator wants.
    public var desiredState: String
    public var status: Status
    /// When the task last changed (RFC 3339, so later sorts higher).
    public var updatedAt: String?

    public struct Status: Decodable, Sendable {
        /// `new`, `pending`, `assigned`, `preparing`, `starting`, `running`, `complete`, `failed`, `rejected` ...
        public var state: String
        public var message: String?
        public var error: String?
        public var containerID: String?

        enum CodingKeys: String, CodingKey {
            case state = "State", message = "Message", error = "Err", containerStatus = "ContainerStatus"
        }
        enum ContainerKeys: String, CodingKey { case containerID = "ContainerID" }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            state = try container.decode(String.self, forKey: .state)
            message = try container.decodeIfPresent(String.self, forKey: .message)
            error = try container.decodeIfPresent(String.self, forKey: .error)
            let containerStatus = try? container.nestedContainer(keyedBy: ContainerKeys.self, forKey: .containerStatus)
            containerID = try containerStatus?.decodeIfPresent(String.self, forKey: .containerID)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "ID", serviceID = "ServiceID", nodeID = "NodeID", desiredState = "DesiredState", status = "Status",
            updatedAt = "UpdatedAt"
    }
}

/// A Docker network (`GET /networks`).
public struct DockerNetwork: Decodable, Sendable {
    public var id: String
    public var name: String
    public var driver: String
    /// `swarm` for overlay networks, `local` for bridges.
    public var scope: String
    public var attachable: Bool
    public var labels: [String: String]

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", driver = "Driver", scope = "Scope", attachable = "Attachable", labels = "Labels"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        name = try container.decode(String.self, forKey: .name)
        driver = try container.decodeIfPresent(String.self, forKey: .driver) ?? ""
        scope = try container.decodeIfPresent(String.self, forKey: .scope) ?? ""
        attachable = try container.decodeIfPresent(Bool.self, forKey: .attachable) ?? false
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }
}

/// One message of `GET /events`.
public struct DockerEvent: Decodable, Sendable, Equatable {
    /// `service`, `node`, `container`, `network` ...
    public var type: String
    /// `create`, `update`, `remove` ...
    public var action: String
    public var actorID: String
    public var attributes: [String: String]
    /// `swarm` or `local`.
    public var scope: String?
    public var timeNano: Int64?

    public init(type: String, action: String, actorID: String, attributes: [String: String] = [:],
                scope: String? = nil, timeNano: Int64? = nil) {
        self.type = type
        self.action = action
        self.actorID = actorID
        self.attributes = attributes
        self.scope = scope
        self.timeNano = timeNano
    }

    enum CodingKeys: String, CodingKey {
        case type = "Type", action = "Action", actor = "Actor", scope, timeNano
    }
    enum ActorKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decodeIfPresent(String.self, forKey: .type) ?? ""
        action = try container.decodeIfPresent(String.self, forKey: .action) ?? ""
        let actor = try? container.nestedContainer(keyedBy: ActorKeys.self, forKey: .actor)
        actorID = try actor?.decodeIfPresent(String.self, forKey: .id) ?? ""
        attributes = try actor?.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:]
        scope = try container.decodeIfPresent(String.self, forKey: .scope)
        timeNano = try container.decodeIfPresent(Int64.self, forKey: .timeNano)
    }
}
