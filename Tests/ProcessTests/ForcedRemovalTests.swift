import DefpiAPI
import DefpiTesting
import Foundation
import Testing

@testable import Engine

/// A process that does not answer TERMINATE is not stuck for good: `rm --force` removes its swarm
/// service and record all the same, and the audit trail says it was forced.
@Suite("Forced removal", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct ForcedRemovalTests {
    @Test("a process the Engine cannot tell to end: rm fails and retries; rm --force removes it, audited as forced")
    func forced() async throws {
        let worker = TestBed.processNodes[1]
        let bed = try await MeterBed()
        try await bed.classifyForAlice([worker])
        try await SwarmGateway.turn {
            let created = try await bed.defpi("process", "create", "meter", "--user", "alice", "--node", worker, "--name", "stuck")
            #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
            // An engine whose way to the processes is a dead end: TERMINATE never arrives.
            let engine = try await bed.makeEngine(processRoute: .direct(host: "127.0.0.1", port: freePort()))
            let process = try await engine.processes.process("stuck", by: .localOperator())
            let plain = try await engine.processes.terminate("stuck", by: .localOperator())
            #expect(try await engine.queue.runNext(only: plain.id))
            let failed = try #require(try await engine.store.fetch(PendingChange.self, id: plain.id))
            #expect(failed.state == .failedTemporary && failed.lastError != nil, "\(failed.state): \(failed.lastError ?? "")")
            #expect(try await bed.docker.service(process.id) != nil, "an unforced removal went on without TERMINATE")

            let forced = try await engine.processes.terminate("stuck", force: true, by: .localOperator())
            let replaced = try await engine.store.fetch(PendingChange.self, id: plain.id)
            #expect(forced.id != plain.id && replaced?.state == .cancelled, "the unforced order was not cancelled for the forced one")
            #expect(try await engine.queue.runNext(only: forced.id))
            #expect(try await engine.store.fetch(PendingChange.self, id: forced.id)?.state == .finished)
            #expect(try await bed.docker.service(process.id) == nil)
            #expect(try await engine.store.fetch(ServiceProcess.self, id: process.id) == nil)
            let history = try await engine.processes.history(process.id, by: .localOperator())
            #expect(history.contains { $0.action == "process.removed-forced" && $0.detail.contains("forced: ") }, "\(history.map(\.action))")
        }
    }

    @Test("a forced removal killed after the process did not answer converges: removed once, audited as forced")
    func forcedKilled() async throws {
        let worker = TestBed.processNodes[1]
        let bed = try await MeterBed(shortLeases: true)
        try await bed.classifyForAlice([worker])
        try await SwarmGateway.turn {
            let created = try await bed.defpi("process", "create", "meter", "--user", "alice", "--node", worker, "--name", "frozen")
            #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
            let engine = try await bed.makeEngine()
            let process = try await engine.processes.process("frozen", by: .localOperator())
            // Its container is frozen: the management connection is accepted and never answered.
            try await Self.pauseContainers(of: process.id, on: worker)
            let killed = try await bed.defpi(["process", "rm", "frozen", "--force"], extra: ["DEFPI_CRASH_AT": CrashPoint.terminateTold.rawValue])
            #expect(killed.status == 128 + SIGKILL, "the forced removal was not killed after its TERMINATE failed: \(killed.stderr)")
            #expect(try await bed.docker.service(process.id) != nil, "killed before the service was removed, yet it is gone")

            let api = Task { await EngineAPI(engine: engine).serveWhenFree(unixSocket: engine.settings.gateway.engineSocket, logger: .init(label: "test")) }
            let background = Task { await engine.run() }
            defer {
                api.cancel()
                background.cancel()
            }
            let store = engine.store
            let converged = await eventually(timeout: .seconds(90)) {
                let open = (try? await store.count(PendingChange.self, .isIn("state", PendingChangeState.open.map { .string($0.rawValue) }))) ?? 1
                let left = (try? await store.count(ServiceProcess.self, .where("id", is: process.id))) ?? 1
                return open == 0 && left == 0
            }
            let changes = try await store.all(PendingChange.self, .contains("resources", .string(process.id)))
            #expect(converged, "\(changes.map { "\($0.description): \($0.state) \($0.lastError ?? "")" })")
            #expect(changes.allSatisfy { $0.state == .finished }, "\(changes.map { "\($0.description): \($0.state)" })")
            #expect(try await bed.docker.service(process.id) == nil)
            let removals = try await store.all(AuditEvent.self, .where("target", is: process.id)).filter { $0.action.hasPrefix("process.removed") || $0.action == "process.terminated" }
            #expect(removals.map(\.action) == ["process.removed-forced"], "\(removals.map(\.action))")
        }
    }

    /// Pauses the containers of swarm service `service` on the worker `node` (through its own daemon).
    static func pauseContainers(of service: String, on node: String) async throws {
        let name = node.hasPrefix("tb-") ? String(node.dropFirst(3)) : node
        let socket = try #require((ProcessInfo.processInfo.environment["TESTBED_WORKER_DOCKER_HOSTS"] ?? "").split(separator: " ")
            .map { String($0.dropFirst("unix://".count)) }.first { $0.contains("/\(name)/") }, "no Docker socket for \(node)")
        let filters = #"{"label":["com.docker.swarm.service.name=\#(service)"]}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let listed = try await ChildProcess.run("/usr/bin/curl", ["-s", "--unix-socket", socket, "http://docker/v1.41/containers/json?filters=\(filters)"])
        let containers = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed.stdout)")
        #expect(!containers.isEmpty, "no container of \(service) on \(node)")
        for id in containers.compactMap({ $0["Id"] as? String }) {
            let paused = try await ChildProcess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--unix-socket", socket,
                                                                      "http://docker/v1.41/containers/\(id)/pause"])
            #expect(paused.stdout == "204", "pausing \(id): \(paused.stdout)")
        }
    }
}
