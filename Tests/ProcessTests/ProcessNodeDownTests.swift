import DefpiTesting
import Engine
import Foundation
import Testing

/// A process whose node dies, as `defpi serve` and the verbs see it: NODE_DOWN within seconds,
/// then moved away (its state is lost with the node, and the audit says so), and no second copy
/// when the node comes back.
@Suite("Process on a node that goes down", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(6)))
struct ProcessNodeDownTests {
    @Test("a worker killed under its process: NODE_DOWN, moved to another node, running there once")
    func nodeDownThenMoved() async throws {
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath)
        let registryURL = try #require(TestBed.registryURL)
        let (manager, doomed) = (TestBed.nodeNames[0], TestBed.nodeNames[2])
        let config = TemporaryDirectory.make().path + "/config.yaml"
        try "queue:\n  leaseSeconds: 3\n  clockSkewSeconds: 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        let environment = [
            "DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": TemporaryDirectory.make().path + "/defpi.sqlite",
            "DEFPI_CONFIG": config, "DEFPI_REGISTRY": registryURL, "DEFPI_REGISTRY_PREFIX": "d\(ObjectID.generate().suffix(8))",
            "DEFPI_GATEWAY_DIRECTORY": SwarmGateway.directory,
            "DEFPI_GATEWAY_EXECUTABLE": DefpiCommand.executable.deletingLastPathComponent().appendingPathComponent("defpi-gateway").path,
        ]
        func defpi(_ arguments: String..., input: String? = nil) async throws -> DefpiCommand.Result {
            try await DefpiCommand.run(arguments, environment: environment, input: input)
        }
        func shown() async -> [String: Any] {
            let json = (try? await defpi("process", "show", "nd-1", "-o", "json").stdout) ?? ""
            return (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
        }
        let published = try await defpi("service", "publish", BuiltSample.meter.executable, "--id", "meter", "--version", "1.0.0",
                                         "--description", BuiltSample.meter.descriptionPath)
        #expect(published.status == 0, "\(published.stderr)")
        #expect(try await defpi("user", "add", "alice", "--password-stdin", input: "a-long-password\n").status == 0)
        let docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        let managerId = try #require(try await docker.nodes().first { $0.description.hostname == manager }?.id)

        try await SwarmGateway.turn {
            defer { Task { try? await docker.removeService(GatewayManager.serviceName) } }
            for node in [doomed, manager] {
                #expect(try await defpi("node", "classify", node, "--owner", "alice", "--detach").status == 0)
            }
            let server = try DefpiCommand.spawn(["serve"], environment: environment)
            defer { server.kill() }
            let created = try await defpi("process", "create", "meter", "--user", "alice", "--node", doomed, "--name", "nd-1",
                                          "-e", "INTERVAL=0.2", "--detach")
            #expect(created.status == 0, "\(created.stderr)")
            #expect(await eventually(timeout: .seconds(60)) { await shown()["state"] as? String == "RUNNING" })
            let id = try #require(await shown()["id"] as? String)
            defer { Task { try? await docker.removeService(id) } }  // Also when an expectation fails on the way.

            try await SwarmNodes.turn { () async throws in
            let bedName = String(doomed.split(separator: "-").last!)
            #expect(try await TestBed.script("stop-node", bedName, "--kill") == 0)
            var restarted = false
            defer { if !restarted { TestBed.restartNodeBlocking(bedName) } }
            #expect(await eventually(timeout: .seconds(60)) { await shown()["state"] as? String == "NODE_DOWN" })

            let moved = try await defpi("process", "move", "nd-1", "--node", manager, "--detach")
            #expect(moved.status == 0, "\(moved.stderr)")
            #expect(await eventually(timeout: .seconds(60)) {
                let process = await shown()
                return process["state"] as? String == "RUNNING" && process["relocation"] == nil
            })
            #expect(try await docker.service(id)?.spec.taskTemplate.placement?.constraints == ["node.id == \(managerId)"])
            let trail = try await defpi("process", "history", "nd-1").stdout
            #expect(trail.contains("process.state-lost") && trail.contains("starts from its configuration"), "\(trail)")

            #expect(try await TestBed.script("start-node", bedName) == 0)
            restarted = true
            // Back, the node runs no second copy: one task of the process runs, on the manager.
            #expect(await eventually(timeout: .seconds(40)) {
                let running = (try? await docker.tasks(service: id, desiredState: "running")) ?? []
                return running.count == 1 && running.first?.nodeID == managerId && running.first?.status.state == "running"
            })
            }
            #expect(try await defpi("process", "rm", "nd-1").status == 0)
            kill(server.pid, SIGTERM)
            #expect(await server.exited() == 0, "\(server.errors)")
        }
    }
}
