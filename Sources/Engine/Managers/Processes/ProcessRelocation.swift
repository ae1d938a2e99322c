import Foundation
import Logging

/// Where an upgrade, a downgrade or a move takes a process, and how far it has got. Stored on
/// the process, so a relocation interrupted at any point resumes where it stopped; the process
/// record itself is never deleted on the way.
public struct Relocation: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        /// The process is asked to suspend; its state is saved in the store.
        case suspending
        /// Its swarm service is replaced by one at the new version or place; the new container
        /// calls back and is sent the saved state (`ResumeProcessMessage`).
        case replacing
    }

    public var version: String
    public var placement: PlacementTarget
    public var phase: Phase
    /// Where the process was before: a relocation that ends without taking effect takes it back
    /// there (nil on a relocation stored by an older defpi, and on the way back itself).
    public var origin: Origin?
    /// This relocation takes the process back after one that failed or was cancelled.
    public var isRollback: Bool

    /// A version and a place a process runs at.
    public struct Origin: Codable, Sendable, Equatable {
        public var version: String
        public var placement: PlacementTarget
    }

    init(version: String, placement: PlacementTarget, from origin: Origin) {
        self.version = version
        self.placement = placement
        self.origin = origin
        phase = .suspending
        isRollback = false
    }

    /// The way back to `origin`, from the phase this relocation reached.
    func rollback() -> Relocation? {
        guard let origin, !isRollback else { return nil }
        var back = self
        back.version = origin.version
        back.placement = origin.placement
        back.origin = nil
        back.isRollback = true
        return back
    }

    enum CodingKeys: String, CodingKey { case version, placement, phase, origin, isRollback }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(String.self, forKey: .version)
        placement = try container.decode(PlacementTarget.self, forKey: .placement)
        phase = try container.decode(Phase.self, forKey: .phase)
        origin = try container.decodeIfPresent(Origin.self, forKey: .origin)
        isRollback = try container.decodeIfPresent(Bool.self, forKey: .isRollback) ?? false
    }
}

/// Carries a relocation out: its connections suspended at both sides, then the process
/// suspended (the state saved before anything is removed), then the
/// swarm service updated in place to the new version or node; the process record stays. A
/// process whose container does not run (its node down, its task failing, or suspended already
/// by an engine killed before it saved the answer) cannot be suspended: it starts again from its
/// configuration, and the audit says so.
struct ProcessRelocation: Sendable {
    let store: any Store
    let control: ProcessControl
    let deployment: ProcessDeployment
    let record: ProcessRecord
    let connections: ConnectionManager
    private static let logger = Logger(label: "defpi.processes")

    func relocate(_ processId: String, by actor: String, lease: ChangeLease) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
            throw ChangeObsolete.missing("the process no longer exists")
        }
        guard var relocation = process.relocation else { return }
        if relocation.isRollback, relocation.phase == .suspending, process.state == .running {
            // Taken back before it was suspended: it runs where it was, and only its connections,
            // suspended for the relocation, are made again.
            try await connections.processRuns(processId)
            try await record.update(processId) { $0.relocation = nil }
            return
        }
        if relocation.phase == .suspending {
            // A container that no longer runs cannot be asked: it may have suspended and exited
            // already, its answer lost with an engine killed before saving it.
            if process.state == .running, try await deployment.hasRunningContainer(process) {
                try await connections.suspendAll(of: processId, lease: lease)
                try lease.check()
                try await control.suspend(processId)
                CrashPoint.relocateSuspended.reached()
            } else if process.suspendedState == nil {
                await store.audit(AuditEvent(actor: actor, action: "process.state-lost", target: processId,
                                             detail: "\(process.name) was \(process.state.rawValue) and could not be suspended: it starts from its configuration"),
                                  logger: Self.logger)
            }
            relocation.phase = .replacing
            let next = relocation
            try await record.update(processId) { $0.relocation = next }
        }
        try await record.update(processId) {
            $0.serviceVersion = relocation.version
            $0.placement = relocation.placement
        }
        // Back where it was and suspended, the unchanged swarm service would not start it again.
        try await deployment.deploy(processId, lease: lease, restartIfStopped: relocation.isRollback)
        CrashPoint.relocateReplaced.reached()
        try await record.update(processId) {
            $0.relocation = nil
            // Unless the new container has called back already.
            if $0.state != .initializing { $0.state = .starting }
            $0.problem = nil
        }
    }
}

/// Upgrades, downgrades or moves a process (see `ProcessRelocation`).
struct RelocateProcessStep: ChangeStep {
    typealias Payload = ProcessSubject

    static let kind: PendingChangeKind = "RELOCATE_PROCESS"

    let relocation: ProcessRelocation

    let rollback: RelocationRollback

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await relocation.relocate(payload.processId, by: change.createdBy, lease: lease)
    }

    func abandoned(_ payload: Payload, change: PendingChange) async throws {
        try await rollback.rollBack(payload.processId)
    }
}
