import DefpiTesting
import Engine
import Foundation
import Testing

/// A process whose node dies, as `defpi serve` and the verbs see it: NODE_DOWN within seconds,
/// then moved away (its state is lost with the node, and the audit says so), and no second copy
/// when the node comes back.
@Suite("Process on a node that goes down", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct ProcessNodeDownTests {
    @Test("a worker killed under its process: NODE_DOWN, moved to another node, running there once")
    func nodeDownThenMoved() async throws {
        let (manager, doomed) = (TestBed.processNodes[0], TestBed.processNodes[2])
        let bed = try await MeterBed(shortLeases: true)
        let docker = bed.docker
        func shown() async -> [String: Any] {
            let json = (try? await bed.defpi("process", "show", "nd-1", "-o", "json").stdout) ?? ""
            return (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
        }
        let managerId = try #require(try await docker.nodes().first { $0.description.hostname == manager }?.id)

        try await SwarmGateway.turn {
            try await bed.classifyForAlice([doomed, manager])
            let server = try bed.serve()
            defer { server.kill() }
            let created = try await bed.defpi("process", "create", "meter", "--user", "alice", "--node", doomed, "--name", "nd-1",
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

            let moved = try await bed.defpi("process", "move", "nd-1", "--node", manager, "--detach")
            #expect(moved.status == 0, "\(moved.stderr)")
            #expect(await eventually(timeout: .seconds(60)) {
                let process = await shown()
                return process["state"] as? String == "RUNNING" && process["relocation"] == nil
            })
            #expect(try await docker.service(id)?.spec.taskTemplate.placement?.constraints == ["node.id == \(managerId)"])
            let trail = try await bed.defpi("process", "history", "nd-1").stdout
            #expect(trail.contains("process.state-lost") && trail.contains("starts from its configuration"), "\(trail)")

            #expect(try await TestBed.script("start-node", bedName) == 0)
            restarted = true
            // Back, the node runs no second copy: one task of the process runs, on the manager.
            #expect(await eventually(timeout: .seconds(40)) {
                let running = (try? await docker.tasks(service: id, desiredState: "running")) ?? []
                return running.count == 1 && running.first?.nodeID == managerId && running.first?.status.state == "running"
            })
            }
            #expect(try await bed.defpi("process", "rm", "nd-1").status == 0)
            kill(server.pid, SIGTERM)
            #expect(await server.exited() == 0, "\(server.errors)")
        }
    }
}
