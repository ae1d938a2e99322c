import Benchmark
import BenchmarkSupport
import Engine
import Foundation

// Process lifecycle benchmarks on the test bed, side by side with the direct Docker API
// (scripts/benchmark.sh builds the release defpi, defpi-gateway and sample-meter). Each iteration
// runs both sides one after the other, so the two see the same machine at the same moment, and
// reports both times and their ratio (the ratio's median over the iterations (15) is the figure):
// - 20 meters created through defpi until all are RUNNING (deployed, started, called back,
//   configured) against 20 busybox services, pinned and on an overlay network as defpi's are,
//   created with direct API calls until their tasks run (target: ratio <= 1.2);
// - a meter moved to another node through defpi until RUNNING there (suspended, state saved,
//   service updated, resumed) against the best raw Docker does for the same move: a service
//   update of the node constraint, in the same (stop-first) order, of a container that ends at
//   once on SIGTERM as the suspended meter has already ended (target: ratio <= 1.5).
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
            metrics: Side.metrics, warmupIterations: 1, maxDuration: .seconds(900), maxIterations: 15)

        Benchmark("lifecycle: 20 processes until RUNNING, defpi against raw Docker, interleaved", configuration: configuration) { benchmark in
            guard let bed = LifecycleBed.shared else { return benchmark.error("the lifecycle bed did not start") }
            let raw = RawServices(tools)
            let started = ContinuousClock.now
            guard let processes = await benchmark.step("creating 20 processes through defpi", attempts: 1, { try await bed.create(20) })
            else { return }
            let defpi = ContinuousClock.now - started
            _ = await benchmark.step("terminating them") { try await bed.terminate(processes) }
            let rawStarted = ContinuousClock.now
            guard let services = await benchmark.step("creating 20 raw services", attempts: 1, { try await raw.create(20) }) else { return }
            let direct = ContinuousClock.now - rawStarted
            _ = await benchmark.step("removing them") { try await raw.remove(services) }
            Side.record(defpi: defpi, raw: direct, in: benchmark)
        } setup: {
            LifecycleBed.shared = try await LifecycleBed(tools)
        } teardown: {
            await LifecycleBed.shared?.stop()
        }

        Benchmark("lifecycle: a process moved to another node until RUNNING there, defpi against raw Docker, interleaved",
                  configuration: configuration) { benchmark in
            guard let bed = LifecycleBed.shared else { return benchmark.error("the lifecycle bed did not start") }
            let raw = RawServices(tools)
            guard let process = await benchmark.step("creating a process", { try await bed.create(1) }),
                  let service = await benchmark.step("creating a raw service", { try await raw.create(1) }) else { return }
            let started = ContinuousClock.now
            guard await benchmark.step("moving the process", attempts: 1, { try await bed.move(process[0]) }) != nil else { return }
            let defpi = ContinuousClock.now - started
            let rawStarted = ContinuousClock.now
            guard await benchmark.step("moving the raw service", attempts: 1, { try await raw.move(service[0]) }) != nil else { return }
            let direct = ContinuousClock.now - rawStarted
            _ = await benchmark.step("terminating the process") { try await bed.terminate(process) }
            _ = await benchmark.step("removing the raw service") { try await raw.remove(service) }
            Side.record(defpi: defpi, raw: direct, in: benchmark)
        } setup: {
            LifecycleBed.shared = try await LifecycleBed(tools)
        } teardown: {
            await LifecycleBed.shared?.stop()
        }
    }
}

/// The figures of an interleaved iteration: defpi's time, raw Docker's, and their ratio.
enum Side {
    static let defpi = BenchmarkMetric.custom("defpi (ms)", polarity: .prefersSmaller, useScalingFactor: false)
    static let raw = BenchmarkMetric.custom("raw Docker (ms)", polarity: .prefersSmaller, useScalingFactor: false)
    static let ratio = BenchmarkMetric.custom("ratio defpi/raw (x100)", polarity: .prefersSmaller, useScalingFactor: false)
    static let metrics = [defpi, raw, ratio]

    static func record(defpi time: Duration, raw direct: Duration, in benchmark: Benchmark) {
        let (ours, theirs) = (milliseconds(time), max(1, milliseconds(direct)))
        benchmark.measurement(defpi, ours)
        benchmark.measurement(raw, theirs)
        benchmark.measurement(ratio, ours * 100 / theirs)
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
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
        guard let manager = nodes.first(where: { $0.spec.role == "manager" }),
              let worker = nodes.first(where: { $0.spec.role == "worker" && $0.status.state == "ready" }) else {
            throw BenchmarkSetupError("the swarm has no manager and ready worker")
        }
        return (manager, worker)
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
            guard process.terminationStatus == 0 else {
                throw BenchmarkSetupError("defpi \(arguments.joined(separator: " ")) failed with status \(process.terminationStatus)")
            }
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
        throw BenchmarkSetupError("the processes did not get there within 5 minutes")
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
                // Ends at once on SIGTERM (a bare `sleep` as PID 1 ignores it and waits out the
                // grace period), as the suspended meter has ended before defpi moves it.
                containerSpec: .init(image: tools.busybox, command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
                                     stopGracePeriod: 1_000_000_000),
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
        guard let service = try await tools.docker.service(id) else { throw BenchmarkSetupError("the raw service \(id) is gone") }
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
