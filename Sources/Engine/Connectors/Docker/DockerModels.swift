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

/// What defpi asks of a swarm service: one replicated task of one image, placed by constraints.
public struct DockerServiceSpec: Codable, Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var taskTemplate: TaskTemplate
    public var mode: Mode
    public var endpointSpec: EndpointSpec?

    public init(name: String, labels: [String: String] = [:], taskTemplate: TaskTemplate, replicas: UInt64 = 1,
                endpointSpec: EndpointSpec? = EndpointSpec(mode: "dnsrr")) {
        self.name = name
        self.labels = labels
        self.taskTemplate = taskTemplate
        self.mode = Mode(replicated: .init(replicas: replicas))
        self.endpointSpec = endpointSpec
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", labels = "Labels", taskTemplate = "TaskTemplate", mode = "Mode",
            endpointSpec = "EndpointSpec"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        taskTemplate = try container.decode(TaskTemplate.self, forKey: .taskTemplate)
        mode = try container.decodeIfPresent(Mode.self, forKey: .mode) ?? Mode(replicated: .init(replicas: 1))
        endpointSpec = try container.decodeIfPresent(EndpointSpec.self, forKey: .endpointSpec)
    }

    public struct TaskTemplate: Codable, Sendable, Equatable {
        public var containerSpec: ContainerSpec
        public var placement: Placement?
        public var networks: [NetworkAttachment]?
        public var restartPolicy: RestartPolicy?

        public init(containerSpec: ContainerSpec, placement: Placement? = nil, networks: [NetworkAttachment]? = nil,
                    restartPolicy: RestartPolicy? = nil) {
            self.containerSpec = containerSpec
            self.placement = placement
            self.networks = networks
            self.restartPolicy = restartPolicy
        }

        enum CodingKeys: String, CodingKey {
            case containerSpec = "ContainerSpec", placement = "Placement", networks = "Networks",
                restartPolicy = "RestartPolicy"
        }
    }

    public struct ContainerSpec: Codable, Sendable, Equatable {
        public var image: String
        public var command: [String]?
        public var args: [String]?
        public var env: [String]?
        public var labels: [String: String]?
        /// Nanoseconds Docker waits after SIGTERM before SIGKILL.
        public var stopGracePeriod: Int64?
        public var mounts: [Mount]?

        public init(image: String, command: [String]? = nil, args: [String]? = nil, env: [String]? = nil,
                    labels: [String: String]? = nil, stopGracePeriod: Int64? = nil, mounts: [Mount]? = nil) {
            self.image = image
            self.command = command
            self.args = args
            self.env = env
            self.labels = labels
            self.stopGracePeriod = stopGracePeriod
            self.mounts = mounts
        }

        enum CodingKeys: String, CodingKey {
            case image = "Image", command = "Command", args = "Args", env = "Env", labels = "Labels",
                stopGracePeriod = "StopGracePeriod", mounts = "Mounts"
        }
    }

    /// A host path (`bind`) or volume mounted into the container.
    public struct Mount: Codable, Sendable, Equatable {
        public var type: String
        public var source: String
        public var target: String
        public init(type: String = "bind", source: String, target: String) {
            self.type = type
            self.source = source
            self.target = target
        }
        enum CodingKeys: String, CodingKey { case type = "Type", source = "Source", target = "Target" }
    }

    public struct Placement: Codable, Sendable, Equatable {
        public var constraints: [String]?
        public init(constraints: [String]?) { self.constraints = constraints }
        enum CodingKeys: String, CodingKey { case constraints = "Constraints" }
    }

    public struct NetworkAttachment: Codable, Sendable, Equatable {
        public var target: String
        public var aliases: [String]?
        public init(target: String, aliases: [String]? = nil) {
            self.target = target
            self.aliases = aliases
        }
        enum CodingKeys: String, CodingKey { case target = "Target", aliases = "Aliases" }
    }

    public struct RestartPolicy: Codable, Sendable, Equatable {
        /// `none`, `on-failure` or `any`.
        public var condition: String
        public var maxAttempts: UInt64?
        public init(condition: String, maxAttempts: UInt64? = nil) {
            self.condition = condition
            self.maxAttempts = maxAttempts
        }
        enum CodingKeys: String, CodingKey { case condition = "Condition", maxAttempts = "MaxAttempts" }
    }

    public struct Mode: Codable, Sendable, Equatable {
        public var replicated: Replicated?
        public struct Replicated: Codable, Sendable, Equatable {
            public var replicas: UInt64
            enum CodingKeys: String, CodingKey { case replicas = "Replicas" }
        }
        enum CodingKeys: String, CodingKey { case replicated = "Replicated" }
    }

    public struct EndpointSpec: Codable, Sendable, Equatable {
        /// `vip` or `dnsrr`; the test bed's kernel has no IPVS, so defpi uses `dnsrr`.
        public var mode: String
        public init(mode: String) { self.mode = mode }
        enum CodingKeys: String, CodingKey { case mode = "Mode" }
    }
}

/// A task: one scheduled instance of a service (`GET /tasks`).
public struct DockerTask: Decodable, Sendable {
    public var id: String
    public var serviceID: String
    public var nodeID: String?
    /// `running`, `shutdown` ...: what the orchestrator wants.
    public var desiredState: String
    public var status: Status

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
        case id = "ID", serviceID = "ServiceID", nodeID = "NodeID", desiredState = "DesiredState", status = "Status"
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
