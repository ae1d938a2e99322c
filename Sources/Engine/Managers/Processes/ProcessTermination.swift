import Foundation
import Logging

/// Ends a process for good: TERMINATE to the process while its container runs, then its swarm
/// service is removed, then its record. Each part is checked before it is done again, so an
/// interrupted termination finishes where it stopped; a process whose node or container is gone
/// has nothing to tell and is removed all the same. The audit trail stays.
struct ProcessTermination: Sendable {
    let store: any Store
    let docker: DockerClient
    let control: ProcessControl
    let notifications: EngineNotifications
    private static let logger = Logger(label: "defpi.processes")

    func terminate(_ processId: String, by actor: String, lease: ChangeLease) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else { return }
        if process.state != .terminated, try await ProcessDeployment.hasRunningContainer(process, docker: docker) {
            try lease.check()
            try await control.terminate(processId)
            CrashPoint.terminateTold.reached()
        }
        try lease.check()
        try await docker.removeService(process.id)
        CrashPoint.terminateServiceRemoved.reached()
        guard try await store.delete(ServiceProcess.self, id: process.id, revision: nil) else { return }
        notifications.publish(.entity(.process, id: process.id, change: .deleted))
        await store.audit(AuditEvent(actor: actor, action: "process.terminated", target: process.id,
                                     detail: "\(process.name) (\(process.serviceId) \(process.serviceVersion))"), logger: Self.logger)
    }
}

/// Terminates a process (see `ProcessTermination`).
struct TerminateProcessStep: ChangeStep {
    typealias Payload = ProcessSubject

    static let kind: PendingChangeKind = "TERMINATE_PROCESS"
    /// A process that keeps refusing to end is left for an operator after this many tries.
    static let maximumAttempts = 5

    let termination: ProcessTermination

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await termination.terminate(payload.processId, by: change.createdBy, lease: lease)
    }
}
