import DefpiAPI
import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// Crash safety of the lifecycle, shown by killing: `defpi process create` and `upgrade` are
/// SIGKILLed at random points inside their steps (deploying: network, gateway, swarm service,
/// record; relocating: suspend, state saved, service updated), then one engine works the queue:
/// every process exists once, with one swarm service, RUNNING at the version it was asked for,
/// no change left open, none finished twice, no orphan service.
@Suite("Process crash safety", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(8)))
struct ProcessCrashTests {
    @Test("creates and upgrades killed at random points converge, with nothing lost, doubled or orphaned")
    func killedLifecycle() async throws {
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath)
        let registryURL = try #require(TestBed.registryURL)
        let worker = TestBed.nodeNames[1]
        let location = TemporaryDirectory.make().path + "/defpi.sqlite"
        let config = TemporaryDirectory.make().path + "/config.yaml"
        // Short leases, so the engine that converges takes the killed ones over quickly.
        try "queue:\n  leaseSeconds: 3\n  clockSkewSeconds: 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        let gatewayExecutable = DefpiCommand.executable.deletingLastPathComponent().appendingPathComponent("defpi-gateway").path
        let prefix = "c\(ObjectID.generate().suffix(8))"
        let environment = [
            "DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": location, "DEFPI_CONFIG": config, "DEFPI_REGISTRY": registryURL,
            "DEFPI_REGISTRY_PREFIX": prefix, "DEFPI_GATEWAY_DIRECTORY": SwarmGateway.directory,
            "DEFPI_GATEWAY_EXECUTABLE": gatewayExecutable,
        ]
        func defpi(_ arguments: String..., input: String? = nil) async throws -> DefpiCommand.Result {
            try await DefpiCommand.run(arguments, environment: environment, input: input)
        }
        for version in ["1.0.0", "1.1.0"] {
            let published = try await defpi("service", "publish", BuiltSample.meter.executable, "--id", "meter", "--version", version,
                                             "--description", BuiltSample.meter.descriptionPath)
            #expect(published.status == 0, "\(published.stderr)")
        }
        #expect(try await defpi("user", "add", "alice", "--password-stdin", input: "a-long-password\n").status == 0)
        #expect(try await defpi("node", "classify", worker, "--owner", "alice", "--detach").status == 0)

        try await SwarmGateway.turn {
            var generator = SystemRandomNumberGenerator()
            var killed: [String] = []
            /// Runs `arguments`, kills it after a random time; returns whether it was still at work.
            func killSomewhere(_ arguments: [String], within milliseconds: Int) async throws -> Bool {
                let child = try DefpiCommand.spawn(arguments, environment: environment)
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...milliseconds, using: &generator)))
                let working = child.isRunning
                if working { killed.append(arguments.prefix(3).joined(separator: " ")) }
                child.kill()
                return working
            }
            // Creates until three were killed mid-way (a verb that ended before its kill shows
            // nothing), at most ten; then upgrades of them until two were, at most eight.
            var created = 0, creationsKilled = 0
            while created < 10 && creationsKilled < 3 {
                if try await killSomewhere(["process", "create", "meter:1.0.0", "--user", "alice", "--node", worker,
                                            "--name", "c\(created)"], within: 3_000) { creationsKilled += 1 }
                created += 1
            }
            var upgrades = 0, upgradesKilled = 0
            while upgrades < 8 && upgradesKilled < 2 {
                if try await killSomewhere(["process", "upgrade", "c\(upgrades % created)", "--version", "1.1.0"],
                                           within: 3_000) { upgradesKilled += 1 }
                upgrades += 1
            }

            // One engine, as a console or server runs it, works the queue and answers the trigger.
            let engine = try await Engine(settings: EngineSettings(
                store: try StoreLocation(parsing: location), docker: DockerEndpoint(unixSocketPath: socket),
                registry: RegistrySettings(url: registryURL, prefix: prefix),
                gateway: GatewaySettings(directory: SwarmGateway.directory, executable: gatewayExecutable),
                queue: QueueSettings(leaseDuration: .seconds(3), maximumClockSkew: .seconds(1))))
            let api = Task { await EngineAPI(engine: engine).serveWhenFree(unixSocket: engine.settings.gateway.engineSocket, logger: .init(label: "test")) }
            let background = Task { await engine.run() }
            defer {
                api.cancel()
                background.cancel()
            }
            let store = engine.store
            let converged = await eventually(timeout: .seconds(180)) {
                let open = (try? await store.count(PendingChange.self, .isIn("state", PendingChangeState.open.map { .string($0.rawValue) }))) ?? 1
                let processes = (try? await store.all(ServiceProcess.self)) ?? []
                return open == 0 && processes.allSatisfy { $0.state == .running && $0.relocation == nil }
            }
            let processes = try await store.all(ServiceProcess.self)
            let changes = try await store.all(PendingChange.self)
            #expect(converged, "\(processes.map { "\($0.name) \($0.state.rawValue) \($0.problem ?? "")" }) \(changes.filter { !$0.state.isTerminal }.map(\.description))")
            #expect(changes.allSatisfy { $0.state == .finished }, "\(changes.map { "\($0.description): \($0.state) \($0.lastError ?? "")" })")
            #expect(Set(processes.map(\.name)).count == processes.count, "a process was created twice")
            let upgraded = Set(changes.filter { $0.type.rawValue == "RELOCATE_PROCESS" }.flatMap(\.resources))
            for process in processes {
                #expect(process.serviceVersion == (upgraded.contains(process.id) ? "1.1.0" : "1.0.0"), "\(process.name)")
                let service = try await engine.docker.service(process.id)
                #expect(service?.spec.labels["org.defpi.service"] == "meter:\(process.serviceVersion)", "\(process.name)")
            }
            // No swarm service of a process that does not exist.
            let services = try await engine.docker.services(label: "org.defpi.process")
            #expect(Set(services.map(\.spec.name)) == Set(processes.map(\.id)))
            let finishes = try await store.all(AuditEvent.self, .where("action", is: "change.finished")).compactMap(\.changeId)
            #expect(finishes.count == Set(finishes).count, "a change finished twice")
            print("process crash test: \(processes.count) processes, \(killed.count) verbs killed mid-way (\(killed)); converged: \(converged)")
            #expect(creationsKilled >= 3 && upgradesKilled >= 2, "only \(killed) were killed mid-way; the test showed little")

            for process in processes {
                _ = try await engine.queue.settle(try await engine.processes.terminate(process.id, by: .localOperator()).id, timeout: .seconds(30))
            }
            #expect(try await engine.docker.services(label: "org.defpi.process").isEmpty)
            try? await engine.docker.removeService(GatewayManager.serviceName)
            try? await Task.sleep(for: .seconds(2))
            try? await engine.docker.removeNetwork("usernet-\(try await engine.users.user("alice", by: .localOperator()).id)")
        }
    }
}
