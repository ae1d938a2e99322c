import Engine
import Foundation

/// defpi set up on the test bed as the process tests start: a fresh store, the sample meter
/// published in `versions` (and `alsoPublish` samples in 1.0.0) under a registry prefix of the test's own (so a test sees only its
/// own images and services), and alice added. With `shortLeases`, an engine takes over quickly
/// what a killed one held.
public struct MeterBed: Sendable {
    /// What every `defpi` this test runs is given.
    public let environment: [String: String]
    public let store: String
    /// The registry prefix of this test's images: `/<prefix>/` is in their names.
    public let prefix: String
    public let docker: DockerClient
    private let socket: String
    private let registryURL: String
    private let gatewayExecutable: String
    private let queue: QueueSettings

    /// Refuses to start without a swarm and a registry (the suites enable themselves only with both).
    public init(versions: [String] = ["1.0.0"], shortLeases: Bool = false, alsoPublish: [BuiltSample] = [],
                autoConnect: Bool = true) async throws {
        guard let socket = TestBed.dockerEndpoint?.unixSocketPath, let registryURL = TestBed.registryURL else {
            throw BedSetupFailure("the test bed's swarm and registry are needed")
        }
        (self.socket, self.registryURL) = (socket, registryURL)
        store = TemporaryDirectory.make().path + "/defpi.sqlite"
        prefix = "m\(ObjectID.generate().suffix(8))"
        gatewayExecutable = DefpiCommand.executable.deletingLastPathComponent().appendingPathComponent("defpi-gateway").path
        var environment = [
            "DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": store, "DEFPI_REGISTRY": registryURL, "DEFPI_REGISTRY_PREFIX": prefix,
            "DEFPI_GATEWAY_DIRECTORY": SwarmGateway.directory, "DEFPI_GATEWAY_EXECUTABLE": gatewayExecutable,
        ]
        queue = shortLeases ? QueueSettings(leaseDuration: .seconds(3), maximumClockSkew: .seconds(1)) : QueueSettings()
        if shortLeases {
            let config = TemporaryDirectory.make().path + "/config.yaml"
            try "queue:\n  leaseSeconds: 3\n  clockSkewSeconds: 1\n".write(toFile: config, atomically: true, encoding: .utf8)
            environment["DEFPI_CONFIG"] = config
        }
        self.environment = environment
        docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        for version in versions {
            try await succeed(["service", "publish", BuiltSample.meter.executable, "--id", "meter", "--version", version,
                               "--description", try Self.description(of: .meter, replacing: autoConnect ? [:] : Self.noAutoConnect)])
        }
        for sample in alsoPublish {
            try await succeed(["service", "publish", sample.executable, "--id", sample.rawValue.lowercased(), "--version", "1.0.0",
                               "--description", try Self.description(of: sample, replacing: autoConnect ? [:] : Self.noAutoConnect)])
        }
        try await succeed(["user", "add", "alice", "--password-stdin"], input: "a-long-password\n")
    }

    /// The sample's description, or, with `replacing`, a copy with those texts replaced (beside
    /// a copy of the message definitions it names): a variant a test publishes.
    public static func description(of sample: BuiltSample, replacing: [String: String] = [:]) throws -> String {
        guard !replacing.isEmpty else { return sample.descriptionPath }
        let root = TemporaryDirectory.make().path
        let services = TestBed.repositoryRoot + "/Sources/Services"
        try FileManager.default.createDirectory(atPath: root + "/\(sample.rawValue)", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: services + "/SampleSupport", toPath: root + "/SampleSupport")
        var description = try String(contentsOfFile: sample.descriptionPath, encoding: .utf8)
        for (text, replacement) in replacing { description = description.replacingOccurrences(of: text, with: replacement) }
        let path = root + "/\(sample.rawValue)/defpi-service.yaml"
        try description.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// No interface connects by itself: a test wires them.
    public static let noAutoConnect = ["autoConnect: true": "autoConnect: false"]

    /// Runs `defpi` with this bed's environment (and `extra` over it).
    public func defpi(_ arguments: [String], input: String? = nil, extra: [String: String] = [:]) async throws
        -> DefpiCommand.Result
    {
        try await DefpiCommand.run(arguments, environment: environment.merging(extra) { $1 }, input: input)
    }

    public func defpi(_ arguments: String..., input: String? = nil) async throws -> DefpiCommand.Result {
        try await defpi(arguments, input: input)
    }

    /// `defpi serve` on this bed, its REST API on a free port (tests run side by side).
    public func serve() throws -> ChildProcess {
        try DefpiCommand.spawn(["serve", "--listen", "127.0.0.1:0"], environment: environment)
    }

    /// Runs `defpi`, throwing its error output unless it succeeds: for set-up steps.
    public func succeed(_ arguments: [String], input: String? = nil) async throws {
        let result = try await defpi(arguments, input: input)
        guard result.status == 0 else {
            throw BedSetupFailure("defpi \(arguments.prefix(3).joined(separator: " ")) failed: \(result.stderr)")
        }
    }

    /// Gives `nodes` back unidentified, their Docker labels removed: a test whose engine applied
    /// its classifications leaves the swarm's nodes as other tests expect them.
    public func declassify(_ nodes: [String]) async throws {
        for node in nodes { try await succeed(["node", "declassify", node]) }
    }

    /// Queues alice's `processes` (name, service, node), each with `configuration`, without
    /// waiting: the engine a test starts next deploys them.
    public func queue(_ processes: [(name: String, service: String, node: String)], configuration: [String] = []) async throws {
        for process in processes {
            try await succeed(["process", "create", process.service, "--user", "alice", "--node", process.node,
                               "--name", process.name, "--detach"] + configuration.flatMap { ["-e", $0] })
        }
    }

    /// Makes `nodes` alice's private nodes.
    public func classifyForAlice(_ nodes: [String]) async throws {
        for node in nodes { try await succeed(["node", "classify", node, "--owner", "alice", "--detach"]) }
    }

    /// An Engine in this test's process, on the bed's store, registry prefix, gateway and leases;
    /// `processRoute` replaces the way to the processes (a dead end, to see them not answer).
    public func makeEngine(processRoute: ProcessRoute? = nil) async throws -> Engine {
        try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: store), docker: DockerEndpoint(unixSocketPath: socket),
            registry: RegistrySettings(url: registryURL, prefix: prefix),
            gateway: GatewaySettings(directory: SwarmGateway.directory, executable: gatewayExecutable),
            processRoute: processRoute, queue: queue))
    }

    /// The swarm services of this test's processes (other tests run processes of their own on
    /// the swarm; only this test's images carry its prefix).
    public func processServices() async throws -> [DockerService] {
        try await docker.services(label: "org.defpi.process").filter { $0.spec.taskTemplate.containerSpec.image.contains("/\(prefix)/") }
    }
}

/// A set-up step of a test bed failed; the message says which and why.
public struct BedSetupFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
