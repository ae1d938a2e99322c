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

    /// With `force`, a process that refuses TERMINATE or does not answer is removed all the same,
    /// and the audit trail says so.
    func terminate(_ processId: String, force: Bool, by actor: String, lease: ChangeLease) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else { return }
        var forced: String?
        if process.state != .terminated, try await ProcessDeployment.hasRunningContainer(process, docker: docker) {
            try lease.check()
            do {
                try await control.terminate(processId)
            } catch where force && !(error is CancellationError) {
                forced = (error as? UserFacingError)?.userMessage ?? "\(error)"
                Self.logger.notice("process \(process.name) did not end when told (\(forced!)); removing it as forced")
            }
            CrashPoint.terminateTold.reached()
        }
        try lease.check()
        try await docker.removeService(process.id)
        CrashPoint.terminateServiceRemoved.reached()
        guard try await store.delete(ServiceProcess.self, id: process.id, revision: nil) else { return }
        notifications.publish(.entity(.process, id: process.id, change: .deleted))
        let what = "\(process.name) (\(process.serviceId) \(process.serviceVersion))"
        await store.audit(AuditEvent(actor: actor, action: forced == nil ? "process.terminated" : "process.removed-forced",
                                     target: process.id, detail: forced.map { "\(what), forced: \($0)" } ?? what), logger: Self.logger)
    }
}

/// Which process to terminate, and whether to remove it even if it does not end when told.
struct TerminationOrder: Codable, Sendable {
    var processId: String
    /// nil (an order of an older defpi) or false: TERMINATE must succeed.
    var force: Bool?
}

/// Terminates a process (see `ProcessTermination`).
struct TerminateProcessStep: ChangeStep {
    typealias Payload = TerminationOrder

    static let kind: PendingChangeKind = "TERMINATE_PROCESS"
    /// A process that keeps refusing to end is left for an operator after this many tries.
    static let maximumAttempts = 5

    let termination: ProcessTermination

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await termination.terminate(payload.processId, force: payload.force == true, by: change.createdBy, lease: lease)
    }
}
