import DefpiAPI
import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// A move that cannot finish is taken back: the process runs again where it was, from the state
/// it saved when it suspended, never "busy with a relocation" for good.
@Suite("Relocation rolled back", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct RelocationRolledBackTests {
    @Test("a move cancelled after the process suspended runs it again where it was, its counter carried on")
    func cancelledAfterSuspend() async throws {
        let (worker, target) = (TestBed.processNodes[1], TestBed.processNodes[2])
        let bed = try await MeterBed(shortLeases: true)
        try await bed.classifyForAlice([worker, target])
        try await SwarmGateway.turn {
            let created = try await bed.defpi("process", "create", "meter", "--user", "alice", "--node", worker, "--name", "meter-r",
                                              "-e", "INTERVAL=0.2")
            #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
            try await Task.sleep(for: .seconds(2))
            let moved = try await bed.defpi("process", "move", "meter-r", "--node", target, "--detach")
            #expect(moved.status == 0, "\(moved.stderr)")

            let engine = try await bed.makeEngine()
            let store = engine.store
            let process = try await engine.processes.process("meter-r", by: .localOperator())
            let move = try #require(try await engine.queue.openChange(of: RelocateProcessStep.kind, on: process.id))
            // The target goes down after the move was asked: the process suspends, then no node takes it.
            let targetNode = try #require(try await store.all(Node.self).first { $0.name == target })
            var down = targetNode
            down.status = .down
            _ = try await store.update(down)
            #expect(try await engine.queue.runNext(only: move.id))
            let suspended = try #require(try await store.fetch(ServiceProcess.self, id: process.id))
            #expect(suspended.state == .suspended && suspended.suspendedState != nil && suspended.relocation?.phase == .replacing,
                    "\(suspended.state) \(String(describing: suspended.relocation))")
            #expect(try await store.fetch(PendingChange.self, id: move.id)?.state == .failedTemporary)

            _ = try await engine.queue.cancel(move.id, by: .localOperator())
            let back = try #require(try await store.fetch(ServiceProcess.self, id: process.id)?.relocation)
            #expect(back.isRollback && back.placement == process.placement && back.version == process.serviceVersion)

            let api = Task { await EngineAPI(engine: engine).serveWhenFree(unixSocket: engine.settings.gateway.engineSocket, logger: .init(label: "test")) }
            let background = Task { await engine.run() }
            defer {
                api.cancel()
                background.cancel()
            }
            let running = await eventually(timeout: .seconds(90)) {
                let now = try? await store.fetch(ServiceProcess.self, id: process.id)
                return now?.state == .running && now?.relocation == nil
            }
            let now = try #require(try await store.fetch(ServiceProcess.self, id: process.id))
            let trail = try await engine.processes.history(process.id, by: .localOperator()).map { "\($0.action): \($0.detail)" }
            #expect(running, "\(now.state) \(now.problem ?? "") \(String(describing: now.relocation)) \(trail)")
            #expect(now.runningNodeId == process.runningNodeId && now.suspendedState == nil)
            let workerId = try #require(try await engine.docker.nodes().first { $0.description.hostname == worker }?.id)
            #expect(try await engine.docker.service(process.id)?.spec.taskTemplate.placement?.constraints == ["node.id == \(workerId)"])
            let tasks = try await engine.docker.tasks(service: process.id, desiredState: "running")
            #expect(!tasks.isEmpty && tasks.allSatisfy { $0.nodeID == workerId }, "\(tasks)")
            let logs = try await bed.defpi("process", "logs", "meter-r", "--tail", "2000").stdout
            let resumed = logs.split(separator: "\n").compactMap { line in
                line.split(separator: "runs from reading ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
            }.max() ?? 0
            #expect(resumed > 0, "the process did not resume from its saved counter: \(logs.suffix(600))")
            let history = try await engine.processes.history(process.id, by: .localOperator()).map(\.action)
            #expect(history.contains("process.relocation-rolled-back"), "\(history)")

            _ = try await engine.queue.settle(try await engine.processes.terminate(process.id, by: .localOperator()).id, timeout: .seconds(30))
            var up = targetNode
            up.revision = try #require(try await store.fetch(Node.self, id: targetNode.id)).revision
            _ = try await store.update(up)
        }
    }
}
