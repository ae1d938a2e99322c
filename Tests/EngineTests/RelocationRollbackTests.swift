import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// A relocation whose change ended without taking effect is taken back, once, by a relocation
/// queued with the rewritten intent; one still under way is left alone; a way back that failed
/// too leaves the process where Docker runs it, saying so, never "busy" for good.
@Suite("Relocation rollback", .timeLimit(.minutes(3)))
struct RelocationRollbackTests {
    @Test("an abandoned relocation queues its way back once; one under way is left alone; a failed way back ends it with a problem",
          arguments: StoreBackend.available)
    func rollback(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let engine = try Fixtures.offlineEngine(on: store)
        let user = try await store.insert(Fixtures.user())
        let origin = Relocation.Origin(version: "1.2.0", placement: .pool("pool-1"))
        /// A process relocating to 1.3.0 on node-9, at `phase`, whose change ended in `state`.
        func relocating(_ name: String, phase: Relocation.Phase, ended state: PendingChangeState,
                        rollback: Bool = false) async throws -> ServiceProcess {
            var process = Fixtures.process(user: user.id, name: name)
            var relocation = Relocation(version: "1.3.0", placement: .privateNode("node-9"), from: origin)
            relocation.phase = phase
            process.relocation = rollback ? relocation.rollback() : relocation
            process.state = phase == .suspending ? .running : .suspended
            process = try await store.insert(process)
            var change = try PendingChange(RelocateProcessStep.self, ProcessSubject(processId: process.id), description: "move \(name)",
                                           resources: [process.id], userId: user.id, createdBy: "alice")
            if state.isTerminal { change.end(in: state, reason: "node node-9 is down", at: Date()) }
            _ = try await store.insert(change)
            return process
        }
        let cancelled = try await relocating("cancelled", phase: .suspending, ended: .cancelled)
        let failed = try await relocating("failed", phase: .replacing, ended: .failedPermanently)
        let underWay = try await relocating("under-way", phase: .replacing, ended: .failedTemporary)
        let backFailed = try await relocating("back-failed", phase: .replacing, ended: .failedPermanently, rollback: true)

        for _ in 0..<2 { try await engine.processes.rollback.rollBackAbandoned() }

        for process in [cancelled, failed] {
            let stored = try #require(try await store.fetch(ServiceProcess.self, id: process.id))
            let back = try #require(stored.relocation, "\(process.name) was not taken back")
            #expect(back.isRollback && back.version == "1.2.0" && back.placement == .pool("pool-1") && back.phase == process.relocation?.phase)
            let open = try await store.all(PendingChange.self, .and([.contains("resources", .string(process.id)),
                                                                      .isIn("state", PendingChangeState.open.map { .string($0.rawValue) })]))
            #expect(open.count == 1 && open[0].type == RelocateProcessStep.kind && open[0].description.contains("back to 1.2.0 where it ran before (node node-9 is down)"),
                    "\(process.name): \(open.map(\.description))")
        }
        #expect(try await store.fetch(ServiceProcess.self, id: underWay.id)?.relocation == underWay.relocation, "a relocation under way was touched")
        let abandoned = try #require(try await store.fetch(ServiceProcess.self, id: backFailed.id))
        #expect(abandoned.relocation == nil && abandoned.problem?.contains("neither did the way back") == true, "\(abandoned.problem ?? "no problem")")
        let actions = try await store.all(AuditEvent.self).map(\.action)
        #expect(actions.filter { $0 == "process.relocation-rolled-back" }.count == 2 && actions.contains("process.relocation-abandoned"), "\(actions)")
    }
}
