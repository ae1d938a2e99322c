import Foundation
import Protocol

/// Changing a running process's configuration: the new one is stored as pending, sent with
/// `SetConfigMessage` (isUpdate), and becomes the process's configuration only once the process
/// has acknowledged it. A process that refuses it (an `ErrorMessage`) keeps its old one, and the
/// change fails with the process's own reason.
struct ProcessConfiguration: Sendable {
    let store: any Store
    let control: ProcessControl
    let record: ProcessRecord

    /// `current` with `set` applied (replacing keys it names) and `unset` removed, in key order
    /// of first appearance.
    static func merged(_ current: [ProcessParameter], set: [ProcessParameter], unset: [String]) -> [ProcessParameter] {
        var result = current.filter { parameter in !unset.contains(parameter.key) }
        for parameter in set {
            if let index = result.firstIndex(where: { $0.key == parameter.key }) {
                result[index] = parameter
            } else {
                result.append(parameter)
            }
        }
        return result
    }

    func apply(_ processId: String, lease: ChangeLease) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
            throw ChangeObsolete.missing("the process no longer exists")
        }
        guard let wanted = process.pendingConfiguration else { return }
        guard process.state == .running else {
            throw ProcessError.notRunning(process: process.name, state: process.state.rawValue)
        }
        try lease.check()
        do {
            try await control.update(processId, configuration: wanted)
        } catch let refusal as PermanentChangeFailure {
            try await record.update(processId) { if $0.pendingConfiguration == wanted { $0.pendingConfiguration = nil } }
            throw refusal
        }
        CrashPoint.configureSent.reached()
        try await record.update(processId) {
            $0.configuration = wanted
            if $0.pendingConfiguration == wanted { $0.pendingConfiguration = nil }
        }
    }
}

/// Sends a process its pending configuration (see `ProcessConfiguration`).
struct UpdateConfigurationStep: ChangeStep {
    typealias Payload = ProcessSubject

    static let kind: PendingChangeKind = "UPDATE_CONFIGURATION"

    let configuration: ProcessConfiguration

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await configuration.apply(payload.processId, lease: lease)
    }
}
