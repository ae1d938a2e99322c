import Benchmark
import Engine
import Foundation

// Process lifecycle benchmarks on the test bed, side by side with the direct Docker API
// (scripts/benchmark.sh builds the release defpi, defpi-gateway and sample-meter):
// - 20 meters created through defpi until all are RUNNING (deployed, started, called back,
//   configured) vs 20 busybox services, pinned and on an overlay network as defpi's are, created
//   with direct API calls until their tasks run (target: ratio <= 1.2);
// - a meter moved to another node through defpi until RUNNING there (suspended, state saved,
//   service updated, resumed) vs a raw `service update` of the node constraint until the new
//   task runs (target: ratio <= 1.5).
// `defpi serve` works the queue and answers the processes; this program asks the Engine.
enum LifecycleBenchmarks {
    static func register(socket: String, registryURL: String) {
        let environment = ProcessInfo.processInfo.environment
        guard let binary = environment["DEFPI_BINARY"], let meter = environment["DEFPI_SAMPLE_METER"],
              let description = environment["DEFPI_SAMPLE_METER_DESCRIPTION"], let busybox = environment["TESTBED_BUSYBOX_IMAGE"]
        else {
            print("LifecycleBenchmarks: run scripts/benchmark.sh (it builds defpi, its gateway and the sample meter); skipping")
            return
        }
        let tools = LifecycleTools(socket: socket, registryURL: registryURL, binary: binary, meter: meter,
                                   description: description, busybox: busybox)
        let configuration = Benchmark.Configuration(
            metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 1, maxDuration: .seconds(90), maxIterations: 5)

        Benchmark("lifecycle: 20 processes through defpi until RUNNING", configuration: configuration) { benchmark in
            let bed = LifecycleBed.shared!
            benchmark.startMeasurement()
            let processes = try! await bed.create(20)
            benchmark.stopMeasurement()
            try! await bed.terminate(processes)
        } setup: {
            LifecycleBed.shared = try await LifecycleBed(tools)
        } teardown: {
            await LifecycleBed.shared?.stop()
        }

        Benchmark("lifecycle: 20 raw swarm services (busybox) until their tasks run", configuration: configuration) { benchmark in
            let raw = RawServices(tools)
            benchmark.startMeasurement()
            let services = try! await raw.create(20)
            benchmark.stopMeasurement()
            try! await raw.remove(services)
        }

        Benchmark("lifecycle: a process moved through defpi until RUNNING on the other node", configuration: configuration) { benchmark in
            let bed = LifecycleBed.shared!
            let process = try! await bed.create(1)
            benchmark.startMeasurement()
            try! await bed.move(process[0])
            benchmark.stopMeasurement()
            try! await bed.terminate(process)
        } setup: {
            LifecycleBed.shared = try await LifecycleBed(tools)
        } teardown: {
            await LifecycleBed.shared?.stop()
        }

        Benchmark("lifecycle: a raw service update of its node constraint until the new task runs",
                  configuration: configuration) { benchmark in
            let raw = RawServices(tools)
            let service = try! await raw.create(1)
            benchmark.startMeasurement()
            try! await raw.move(service[0])
            benchmark.stopMeasurement()
            try! await raw.remove(service)
        }
    }
}

/// Where the lifecycle benchmarks run: the test bed, the release binaries, the images.
struct LifecycleTools: Sendable {
    let socket: String
    let registryURL: String
    let binary: String
    let meter: String
    let description: String
    let busybox: String

    var docker: DockerClient { DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket)) }

    /// The swarm's manager and one worker, by Docker node id.
    func nodes() async throws -> (manager: DockerNode, worker: DockerNode) {
        let nodes = try await docker.nodes()
        return (nodes.first { $0.spec.role == "manager" }!, nodes.first { $0.spec.role == "worker" && $0.status.state == "ready" }!)
    }
}

/// A store with the meter published, alice owning the manager and a worker, `defpi serve`
/// working the queue, and an Engine on the same store to ask.
final class LifecycleBed: @unchecked Sendable {
    nonisolated(unsafe) static var shared: LifecycleBed?
    let engine: Engine
    let docker: DockerClient
    let server: Process
    let worker: String
    let manager: String
    private var round = 0

    init(_ tools: LifecycleTools) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("defpi-lifecycle-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let gatewayExecutable = URL(fileURLWithPath: tools.binary).deletingLastPathComponent().appendingPathComponent("defpi-gateway").path
        let environment = ProcessInfo.processInfo.environment.merging([
            "DOCKER_HOST": "unix://\(tools.socket)", "DEFPI_STORE": directory + "/defpi.sqlite",
            "DEFPI_REGISTRY": tools.registryURL, "DEFPI_REGISTRY_PREFIX": "bench-lifecycle",
            "DEFPI_GATEWAY_DIRECTORY": directory + "/gateway", "DEFPI_GATEWAY_EXECUTABLE": gatewayExecutable,
        ]) { $1 }
        func defpi(_ arguments: String..., input: String? = nil) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tools.binary)
            process.arguments = arguments
            process.environment = environment
            let pipe = Pipe()
            process.standardInput = pipe
            try process.run()
            if let input { pipe.fileHandleForWriting.write(Data(input.utf8)) }
            try pipe.fileHandleForWriting.close()
            process.waitUntilExit()
            precondition(process.terminationStatus == 0, "defpi \(arguments.joined(separator: " ")) failed")
        }
        try defpi("service", "publish", tools.meter, "--id", "meter", "--version", "1.0.0", "--description", tools.description)
        try defpi("user", "add", "alice", "--password-stdin", input: "a-long-password\n")
        let (manager, worker) = try await tools.nodes()
        (self.manager, self.worker) = (manager.description.hostname, worker.description.hostname)
        for node in [self.worker, self.manager] { try defpi("node", "classify", node, "--owner", "alice") }
        docker = tools.docker
        server = Process()
        server.executableURL = URL(fileURLWithPath: tools.binary)
        server.arguments = ["serve", "--listen", "127.0.0.1:0"]
        server.environment = environment
        try server.run()
        engine = try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: directory + "/defpi.sqlite"), docker: DockerEndpoint(unixSocketPath: tools.socket),
            registry: RegistrySettings(url: tools.registryURL, prefix: "bench-lifecycle"),
            gateway: GatewaySettings(directory: directory + "/gateway", executable: gatewayExecutable)))
    }

    /// Creates `count` meters on the worker; returns their ids once all are RUNNING.
    func create(_ count: Int) async throws -> [String] {
        round += 1
        var ids: [String] = []
        for index in 0..<count {
            let request = ProcessRequest(serviceId: "meter", version: "1.0.0", name: "b\(round)-\(index)", owner: "alice",
                                         target: .node(worker), configuration: [ProcessParameter(key: "INTERVAL", value: "1")])
            ids.append(try await engine.processes.create(request, by: .localOperator()).process.id)
        }
        try await until { processes in
            ids.allSatisfy { id in processes.contains { $0.id == id && $0.state == .running } }
        }
        return ids
    }

    /// Moves a process to the manager; returns once it runs there.
    func move(_ id: String) async throws {
        _ = try await engine.processes.relocate(id, version: nil, target: .node(manager), by: .localOperator())
        try await until { processes in
            processes.contains { $0.id == id && $0.state == .running && $0.relocation == nil }
        }
    }

    func terminate(_ ids: [String]) async throws {
        for id in ids { _ = try await engine.processes.terminate(id, by: .localOperator()) }
        try await until { processes in !processes.contains { ids.contains($0.id) } }
    }

    /// Polls the store every 20 ms until `done` holds (at most 5 minutes).
    private func until(_ done: @escaping ([ServiceProcess]) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline {
            if done(try await engine.processes.processes(by: .localOperator())) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        fatalError("the processes did not get there within 5 minutes")
    }

    func stop() async {
        server.terminate()
        server.waitUntilExit()
        try? await docker.removeService(GatewayManager.serviceName)
    }
}

/// Busybox services created, moved and removed with direct Docker API calls: what defpi asks of
/// the swarm for a process (a service pinned to a node, on an attachable overlay network under
/// an alias, restarted on failure), without the process calling back and being configured.
struct RawServices: Sendable {
    let tools: LifecycleTools
    static let network = "bench-raw-net"

    init(_ tools: LifecycleTools) { self.tools = tools }

    private func spec(_ name: String, on node: String) -> DockerServiceSpec {
        DockerServiceSpec(
            name: name, labels: ["org.defpi.bench": "raw"],
            taskTemplate: .init(
                containerSpec: .init(image: tools.busybox, command: ["sleep", "3600"], stopGracePeriod: 1_000_000_000),
                placement: .init(constraints: ["node.id == \(node)"]),
                networks: [.init(target: Self.network, aliases: [name])], restartPolicy: .init(condition: "on-failure")))
    }

    /// Creates `count` services on the worker; returns their ids once every task runs.
    func create(_ count: Int) async throws -> [String] {
        _ = try await tools.docker.createOverlayNetwork(name: Self.network)
        let worker = try await tools.nodes().worker.id
        var ids: [String] = []
        for _ in 0..<count { ids.append(try await tools.docker.createService(spec("bench-raw-\(UUID().uuidString.prefix(8))", on: worker))) }
        for id in ids { try await running(id, on: worker) }
        return ids
    }

    /// Moves a service to the manager by updating its constraint; returns once a task runs there.
    func move(_ id: String) async throws {
        let manager = try await tools.nodes().manager.id
        let service = try await tools.docker.service(id)!
        try await tools.docker.updateService(id, version: service.version, spec: spec(service.spec.name, on: manager))
        try await running(id, on: manager)
    }

    func remove(_ ids: [String]) async throws {
        for id in ids { try await tools.docker.removeService(id) }
    }

    private func running(_ id: String, on node: String) async throws {
        while !(try await tools.docker.tasks(service: id, desiredState: "running")
            .contains { $0.nodeID == node && $0.status.state == "running" }) {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
