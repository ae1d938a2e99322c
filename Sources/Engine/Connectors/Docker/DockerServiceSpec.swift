import Foundation

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
        public var resources: Resources?
        /// A counter whose change alone makes Docker replace the service's tasks.
        public var forceUpdate: UInt64?

        public init(containerSpec: ContainerSpec, placement: Placement? = nil, networks: [NetworkAttachment]? = nil,
                    restartPolicy: RestartPolicy? = nil, resources: Resources? = nil) {
            self.containerSpec = containerSpec
            self.placement = placement
            self.networks = networks
            self.restartPolicy = restartPolicy
            self.resources = resources
        }

        enum CodingKeys: String, CodingKey {
            case containerSpec = "ContainerSpec", placement = "Placement", networks = "Networks",
                restartPolicy = "RestartPolicy", resources = "Resources", forceUpdate = "ForceUpdate"
        }
    }

    /// What the task may use at most.
    public struct Resources: Codable, Sendable, Equatable {
        public var limits: Limits?
        public init(limits: Limits?) { self.limits = limits }
        enum CodingKeys: String, CodingKey { case limits = "Limits" }

        public struct Limits: Codable, Sendable, Equatable {
            public var nanoCPUs: Int64?
            public var memoryBytes: Int64?
            public init(nanoCPUs: Int64?, memoryBytes: Int64?) {
                self.nanoCPUs = nanoCPUs
                self.memoryBytes = memoryBytes
            }
            enum CodingKeys: String, CodingKey { case nanoCPUs = "NanoCPUs", memoryBytes = "MemoryBytes" }
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
        /// Linux capabilities taken from the container's default set (API 1.41 and later).
        public var capabilityDrop: [String]?
        public var privileges: Privileges?

        public init(image: String, command: [String]? = nil, args: [String]? = nil, env: [String]? = nil,
                    labels: [String: String]? = nil, stopGracePeriod: Int64? = nil, mounts: [Mount]? = nil,
                    capabilityDrop: [String]? = nil, privileges: Privileges? = nil) {
            self.privileges = privileges
            self.image = image
            self.command = command
            self.args = args
            self.env = env
            self.labels = labels
            self.stopGracePeriod = stopGracePeriod
            self.mounts = mounts
            self.capabilityDrop = capabilityDrop
        }

        enum CodingKeys: String, CodingKey {
            case image = "Image", command = "Command", args = "Args", env = "Env", labels = "Labels",
                stopGracePeriod = "StopGracePeriod", mounts = "Mounts", capabilityDrop = "CapabilityDrop",
                privileges = "Privileges"
        }
    }

    /// The container's security options.
    public struct Privileges: Codable, Sendable, Equatable {
        /// No process of the container gains privileges through setuid or file capabilities
        /// (API 1.46 and later; older daemons ignore it).
        public var noNewPrivileges: Bool?
        public init(noNewPrivileges: Bool?) { self.noNewPrivileges = noNewPrivileges }
        enum CodingKeys: String, CodingKey { case noNewPrivileges = "NoNewPrivileges" }
    }

    /// A host path (`bind`), a volume or a tmpfs mounted into the container.
    public struct Mount: Codable, Sendable, Equatable {
        public var type: String
        public var source: String?
        public var target: String
        public var readOnly: Bool?
        public var tmpfsOptions: TmpfsOptions?

        public init(type: String = "bind", source: String?, target: String, readOnly: Bool? = nil,
                    tmpfsOptions: TmpfsOptions? = nil) {
            self.type = type
            self.source = source
            self.target = target
            self.readOnly = readOnly
            self.tmpfsOptions = tmpfsOptions
        }

        enum CodingKeys: String, CodingKey {
            case type = "Type", source = "Source", target = "Target", readOnly = "ReadOnly", tmpfsOptions = "TmpfsOptions"
        }

        public struct TmpfsOptions: Codable, Sendable, Equatable {
            public var sizeBytes: Int64?
            public init(sizeBytes: Int64?) { self.sizeBytes = sizeBytes }
            enum CodingKeys: String, CodingKey { case sizeBytes = "SizeBytes" }
        }

        /// Whether Docker's stored copy of a mount is this one: Docker leaves out what is off
        /// (read-only false, an empty source) and may add tmpfs defaults.
        func sameAs(_ other: Mount) -> Bool {
            type == other.type && (source ?? "") == (other.source ?? "") && target == other.target
                && (readOnly ?? false) == (other.readOnly ?? false) && tmpfsOptions?.sizeBytes == other.tmpfsOptions?.sizeBytes
        }
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
        /// Ports published on the node's own address (`host` mode: `dnsrr` allows no other).
        public var ports: [Port]?
        public init(mode: String, ports: [Port]? = nil) {
            self.mode = mode
            self.ports = ports
        }
        enum CodingKeys: String, CodingKey { case mode = "Mode", ports = "Ports" }
    }

    public struct Port: Codable, Sendable, Equatable {
        public var targetPort: Int
        public var publishedPort: Int
        public var publishMode: String
        public var `protocol`: String
        public init(targetPort: Int, publishedPort: Int, publishMode: String = "host", protocol: String = "tcp") {
            self.targetPort = targetPort
            self.publishedPort = publishedPort
            self.publishMode = publishMode
            self.protocol = `protocol`
        }
        enum CodingKeys: String, CodingKey {
            case targetPort = "TargetPort", publishedPort = "PublishedPort", publishMode = "PublishMode", `protocol` = "Protocol"
        }
    }
}
