import Foundation

/// Writes a change to a process's latest stored version, reading it again when someone else
/// wrote in between, so no step saves a stale copy over another's work.
struct ProcessRecord: Sendable {
    let store: any Store
    let notifications: EngineNotifications

    /// Applies `change` to the stored process and saves it; throws `ChangeObsolete` when the
    /// process no longer exists.
    @discardableResult
    func update(_ processId: String, _ change: (inout ServiceProcess) -> Void) async throws -> ServiceProcess {
        var attempt = 0
        while true {
            attempt += 1
            guard var process = try await store.fetch(ServiceProcess.self, id: processId) else {
                throw ChangeObsolete("the process no longer exists")
            }
            change(&process)
            do {
                let saved = try await store.update(process)
                notifications.publish(.entity(.process, id: processId, change: .modified))
                return saved
            } catch StoreError.conflict where attempt < 5 {
                continue
            }
        }
    }
}

/// The payload of every process step: the process it acts on, re-read when the step runs.
struct ProcessSubject: Codable, Sendable {
    var processId: String
}
