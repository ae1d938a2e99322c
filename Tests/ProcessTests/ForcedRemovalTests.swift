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
}
