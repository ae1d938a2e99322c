import Foundation
import Logging

/// Takes a process back where it was when its upgrade, downgrade or move ended without taking
/// effect (failed for good, cancelled, or dismissed after that), so no process is "busy with a
/// relocation" for good. The way back is itself a relocation, queued with the process's
/// rewritten intent: from the phase the first one reached, so a process that was suspended
/// resumes from its saved state where it ran before, and one that never was is not disturbed.
///
/// Called by the relocation step when its change ends, and from the periodic repair for what a
/// crash in between left; both see the same stored state, and the queued way back is written
/// over the revision read, so two engines never queue it twice.
struct RelocationRollback: Sendable {
    let store: any Store
    let queue: PendingChangeManager
    let notifications: EngineNotifications
    private static let logger = Logger(label: "defpi.processes")

    /// Rolls back every relocation whose change is no longer open.
    func rollBackAbandoned() async throws {
        for process in try await store.all(ServiceProcess.self) where process.relocation != nil {
            try await rollBack(process.id)
        }
    }

    /// Rolls back `processId`'s relocation if no change carries it out any more.
    func rollBack(_ processId: String) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId),
              let relocation = process.relocation,
              try await queue.openChange(of: RelocateProcessStep.kind, on: processId, states: PendingChangeState.open) == nil
        else { return }
        let reason = try await lastFailure(of: processId) ?? "its change ended"
        var back = process
        do {
            if let rollback = relocation.rollback() {
                back.relocation = rollback
                var intent = StoreBatch()
                intent.update(back)
                try await queue.enqueue(try PendingChange(
                    RelocateProcessStep.self, .init(processId: processId),
                    description: "process \(process.name): back to \(rollback.version) where it ran before (\(reason))",
                    resources: [processId], userId: process.userId, createdBy: "defpi"), with: intent)
                await audit(process, "process.relocation-rolled-back",
                            "its relocation to \(relocation.version) did not take effect (\(reason)); back to \(rollback.version) where it ran before")
            } else {
                // The way back failed as well: the process stays as Docker runs it, and says so.
                back.relocation = nil
                back.problem = "its relocation did not take effect and neither did the way back (\(reason)); move it again or remove it"
                try await store.update(back)
                await audit(process, "process.relocation-abandoned", back.problem!)
            }
        } catch StoreError.conflict {
            return  // Changed meanwhile (finished, or rolled back by another engine): looked at again later.
        }
        notifications.publish(.entity(.process, id: processId, change: .modified))
    }

    /// Why the process's last relocation change ended, as the queue recorded it.
    private func lastFailure(of processId: String) async throws -> String? {
        let ended = try await store.list(PendingChange.self, StoreQuery(
            filter: .and([.where("type", is: RelocateProcessStep.kind.rawValue), .contains("resources", .string(processId))]),
            sort: [StoreSort("created", ascending: false)], limit: 1))
        return ended.items.first?.lastError
    }

    private func audit(_ process: ServiceProcess, _ action: String, _ detail: String) async {
        await store.audit(AuditEvent(actor: "defpi", action: action, target: process.id, detail: "\(process.name): \(detail)"),
                          logger: Self.logger)
    }
}
