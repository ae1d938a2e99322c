import DefpiAPI
import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// The service library's side of the management protocol, with the swarm service built by hand
/// (pinned by hostname; the lifecycle's own deployment, pinned by node id, is `ProcessCommandTests`'s):
/// on a test-bed worker and reached only through the gateway, the meter calls back, gets its
/// configuration, is suspended (its state comes back), resumed in a new container from that
/// state, and terminated.
@Suite("Service library on the swarm", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct SwarmProcessTests {
    @Test("a hand-built meter service on a worker: trigger through the gateway, RUNNING, suspend with state, resume from it, terminate")
    func meterOnAWorker() async throws {
        try await SwarmGateway.turn { try await meterOnAWorkerInTurn() }
    }

    private func meterOnAWorkerInTurn() async throws {
        let endpoint = try #require(TestBed.dockerEndpoint)
        let registryURL = try #require(TestBed.registryURL)
        let worker = TestBed.processNodes[1]
        let prefix = "p\(ObjectID.generate().suffix(8))"
        let published = try await DefpiCommand.run(
            ["service", "publish", BuiltSample.meter.executable, "--id", "meter", "--version", "1.0.0",
             "--description", BuiltSample.meter.descriptionPath],
            environment: ["DEFPI_REGISTRY": registryURL, "DEFPI_REGISTRY_PREFIX": prefix])
        #expect(published.status == 0, "\(published.stderr)")
        let image = "\(registryURL.replacingOccurrences(of: "http://", with: ""))/\(prefix)/meter:1.0.0"

        let directory = TemporaryDirectory.make().path
        let engine = try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: directory + "/defpi.sqlite"), docker: endpoint,
            registry: RegistrySettings(url: registryURL), gateway: GatewaySettings(directory: SwarmGateway.directory)))
        let api = Task { try await EngineAPI(engine: engine).serve(unixSocket: engine.settings.gateway.engineSocket) }
        let queue = Task { await engine.queue.run() }
        let user = try await engine.store.insert(User(username: "alice"))
        let network = "usernet-\(user.id)"
        let docker = engine.docker
        let process = try await engine.store.insert(ServiceProcess(
            name: "meter-1", userId: user.id, serviceId: "meter", serviceVersion: "1.0.0", placement: .pool("edge"),
            configuration: [ProcessParameter(key: "INTERVAL", value: "0.2"), ProcessParameter(key: "WATTS", value: "75")]))
        defer {
            api.cancel()
            queue.cancel()
            Task {
                try? await docker.removeService(process.id)
                try? await docker.removeService(GatewayManager.serviceName)
                try? await Task.sleep(for: .seconds(2))
                try? await docker.removeNetwork(network)
            }
        }

        try await docker.createOverlayNetwork(name: network)
        let gatewayImage = try await engine.gateway.publishImage(
            executable: DefpiCommand.executable.deletingLastPathComponent().appendingPathComponent("defpi-gateway").path)
        try await engine.gateway.ensure(image: gatewayImage, networks: [network])
        #expect(await eventually(timeout: .seconds(60)) {
            FileManager.default.fileExists(atPath: engine.settings.gateway.dialSocket)
        }, "the gateway never opened its socket")

        // A swarm service named by the process id, on the user's network under that id, with the
        // orchestrator's address and the process's token: what the service library needs.
        func spec(start: Int) -> DockerServiceSpec {
            DockerServiceSpec(name: process.id, labels: ["org.defpi.process": process.id], taskTemplate: .init(
                containerSpec: .init(image: image, env: [
                    "PROCESS_ID=\(process.id)", "USER_ID=\(user.id)", "USER_NAME=alice", "ORCHESTRATOR_HOST=orchestrator",
                    "ORCHESTRATOR_PORT=8080", "ORCHESTRATOR_TOKEN=\(process.token)", "DEFPI_START=\(start)",
                ], stopGracePeriod: 2_000_000_000),
                placement: .init(constraints: ["node.hostname == \(worker)"]),
                networks: [.init(target: network, aliases: [process.id])],
                restartPolicy: .init(condition: "on-failure", maxAttempts: 3)))
        }
        func running() async -> Bool {
            (try? await engine.store.fetch(ServiceProcess.self, id: process.id))?.state == .running
        }
        func logs() async throws -> String {
            let lines = LogLines()
            try await docker.streamLogs(service: process.id, tail: 2000, follow: false) { lines.append($0.text) }
            return lines.text
        }
        /// Waits for `condition`; when it never holds, records `what` with the process's log.
        func expect(_ what: String, within timeout: Duration, _ condition: () async -> Bool) async {
            if await eventually(timeout: timeout, condition) { return }
            Issue.record("\(what); the process's log:\n\((try? await logs()) ?? "")")
        }
        func taskNode() async throws -> String {
            let task = try #require(try await docker.tasks(service: process.id).first { $0.desiredState == "running" })
            return try await docker.node(task.nodeID ?? "").description.hostname
        }

        let created = ContinuousClock.now
        try await docker.createService(spec(start: 1))
        await expect("the process never became RUNNING", within: .seconds(90)) { await running() }
        let firstStart = ContinuousClock.now - created
        #expect(try await taskNode() == worker)
        await expect("the configuration never showed in the log", within: .seconds(20)) {
            ((try? await logs()) ?? "").contains("meter \(process.id) runs from reading 0: interval=0.2 watts=75.0")
        }

        try await Task.sleep(for: .seconds(1))
        let state = try await engine.processes.control.suspend(process.id)
        let carried = try JSONSerialization.jsonObject(with: state) as? [String: Any]
        let counter = try #require(carried?["counter"] as? Int)
        #expect(counter > 0)
        #expect(await eventually(timeout: .seconds(30)) {
            (try? await docker.tasks(service: process.id))?.contains { $0.status.state == "complete" } == true
        }, "the suspended container did not end")

        // A new container of the process starts from the saved state.
        let restarted = ContinuousClock.now
        let service = try #require(try await docker.service(process.id))
        try await docker.updateService(service.id, version: service.version, spec: spec(start: 2))
        await expect("the process never became RUNNING again", within: .seconds(90)) { await running() }
        let secondStart = ContinuousClock.now - restarted
        await expect("the resumed counter never showed in the log", within: .seconds(20)) {
            ((try? await logs()) ?? "").contains("meter \(process.id) runs from reading \(counter): interval=0.2 watts=75.0")
        }

        try await engine.processes.control.terminate(process.id)
        #expect(await eventually(timeout: .seconds(30)) {
            let tasks = (try? await docker.tasks(service: process.id)) ?? []
            return !tasks.isEmpty && !tasks.contains { $0.status.state == "running" } && tasks.contains { $0.status.state == "complete" }
        }, "the terminated container did not end")
        #expect(try await engine.store.fetch(ServiceProcess.self, id: process.id)?.state == .terminated)
        print("swarm process: meter \(process.id) on \(worker); create to RUNNING \(firstStart), restart to RUNNING from state (counter \(counter)) \(secondStart)")
    }
}

/// Log lines collected from a callback.
private final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }
}
