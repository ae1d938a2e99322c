import Benchmark
import BenchmarkSupport
import Engine
import Foundation

// Cluster connector benchmarks against the test bed (scripts/benchmark.sh brings it up):
// - the service catalog of 200 services x 5 versions, read cold (a new ServiceManager), warm
//   (from the cache) and refreshed (tags and manifests re-read, image configs cached by digest);
// - Docker event to Engine state: a worker's availability is flipped through the API and the
//   time until the Engine publishes the node's change is measured (target p99 <= 50 ms);
// - the process lifecycle beside the direct Docker API (LifecycleBenchmarks.swift).
let benchmarks: @Sendable () -> Void = {
    let environment = ProcessInfo.processInfo.environment
    guard let registryURL = environment["TESTBED_REGISTRY_URL"], let socket = environment["TESTBED_DOCKER_SOCKET"] else {
        print("ClusterBenchmarks: the test bed is not up (run scripts/benchmark.sh); skipping")
        return
    }
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident], timeUnits: .milliseconds, warmupIterations: 1,
        maxDuration: .seconds(30), maxIterations: 20)
    let prefix = "bench-catalog"
    guard let registry = try? RegistryClient(url: registryURL) else {
        print("ClusterBenchmarks: \(registryURL) is not a registry URL; skipping")
        return
    }

    Benchmark("catalog of 200 services x 5 versions, cold") { benchmark in
        guard let catalog = await benchmark.step("reading the catalog", attempts: 1, {
            try await ServiceManager(registry: registry, prefix: prefix).catalog()
        }) else { return }
        if !(catalog.entries.count == 200 && catalog.entries.allSatisfy { $0.versions.count == 5 }) {
            benchmark.error("the catalog has \(catalog.entries.count) services, not 200 of 5 versions")
        }
        blackHole(catalog)
    } setup: {
        try await CatalogWorkload.publish(registry: registry, prefix: prefix)
    }

    let warm = ServiceManager(registry: registry, prefix: prefix)
    Benchmark("catalog of 200 services x 5 versions, warm (cached)", configuration: .init(timeUnits: .microseconds)) { benchmark in
        blackHole(await benchmark.step("reading the catalog", attempts: 1) { try await warm.catalog() })
    } setup: {
        _ = try await warm.catalog()
    }

    Benchmark("catalog of 200 services x 5 versions, refresh (configs cached)") { benchmark in
        blackHole(await benchmark.step("refreshing the catalog", attempts: 1) { try await warm.catalog(refresh: true) })
    } setup: {
        _ = try await warm.catalog()
    }

    LifecycleBenchmarks.register(socket: socket, registryURL: registryURL)

    Benchmark("Docker node event to Engine state update", configuration: .init(
        metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 2, maxDuration: .seconds(60),
        maxIterations: 100)) { benchmark in
        guard let probe = NodeEventProbe.shared,
              let update = await benchmark.step("reading the node", { try await probe.nextUpdate() }) else { return }
        benchmark.startMeasurement()
        guard await benchmark.step("changing the node", attempts: 1, { try await probe.apply(update) }) != nil else { return }
        benchmark.stopMeasurement()
    } setup: {
        NodeEventProbe.shared = try await NodeEventProbe(socket: socket)
    } teardown: {
        await NodeEventProbe.shared?.stop()
    }
}

/// Pushes 200 services with 5 tags each under `prefix`, unless they are there already.
enum CatalogWorkload {
    static func publish(registry: RegistryClient, prefix: String) async throws {
        let existing = try await registry.catalog().filter { $0.hasPrefix(prefix + "/") }
        guard existing.count < 200 else { return }
        var layer = TarWriter()
        try layer.addFile("/app/service", contents: Data(repeating: 7, count: 4096))
        let layerData = layer.finish()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let id = String(format: "service-%03d", index)
                    let repository = "\(prefix)/\(id)"
                    for version in ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0"] {
                        let interfaces = [Interface(
                            id: "\(id)/data", name: "data", serviceId: id,
                            interfaceVersions: [InterfaceVersion(versionName: version, receivesHash: "r\(index)",
                                                                 sendsHash: "s\(index)")])]
                        let config = try JSONEncoder().encode(ImageConfig(
                            architecture: "amd64", created: "2026-11-24T10:00:00Z",
                            config: .init(labels: [
                                ServiceLabels.serviceName: "Service \(index)",
                                ServiceLabels.interfaces: String(decoding: try JSONEncoder().encode(interfaces), as: UTF8.self),
                            ], entrypoint: ["/app/service"]),
                            rootfs: .init(diffIDs: [RegistryClient.digest(of: layerData)])))
                        try await registry.pushImage(repository: repository, reference: version, layer: layerData,
                                                     config: config)
                    }
                }
                if index % 8 == 7 { try await group.next() }
            }
            try await group.waitForAll()
        }
    }
}

/// An Engine following Docker events, and a worker whose availability it flips.
final class NodeEventProbe: @unchecked Sendable {
    nonisolated(unsafe) static var shared: NodeEventProbe?
    let engine: Engine
    /// The operator's own Docker client, acting behind the Engine's back.
    let docker: DockerClient
    let worker: Node
    let running: Task<Void, Never>
    var notifications: AsyncStream<EngineNotification>.AsyncIterator
    var paused = false

    init(socket: String) async throws {
        engine = try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: FileManager.default.temporaryDirectory.path + "/defpi-bench-\(UUID()).sqlite"),
            docker: DockerEndpoint(unixSocketPath: socket), registry: RegistrySettings()))
        docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        try await engine.nodes.sync()
        worker = try await engine.nodes.nodes(by: .localOperator()).first { $0.role == .worker }!
        notifications = engine.notifications.subscribe().makeAsyncIterator()
        let engine = engine
        running = Task { await engine.run() }
        try await Task.sleep(for: .milliseconds(500))
    }

    /// The worker's spec with its availability flipped (active <-> pause), and its version.
    func nextUpdate() async throws -> (DockerObjectVersion, DockerNodeSpec) {
        paused.toggle()
        let node = try await docker.node(worker.dockerId)
        var spec = node.spec
        spec.availability = paused ? "pause" : "active"
        return (node.version, spec)
    }

    /// Writes the update to Docker and waits until the Engine has stored the node's change.
    func apply(_ update: (DockerObjectVersion, DockerNodeSpec)) async throws {
        try await docker.updateNode(worker.dockerId, version: update.0, spec: update.1)
        while let notification = await notifications.next() {
            if notification == .entity(.node, id: worker.id, change: .modified) { return }
        }
    }

    func stop() async {
        if paused, let update = try? await nextUpdate() { try? await apply(update) }
        running.cancel()
    }
}
