import Foundation

/// Writes a change to an entity's latest stored version, reading it again when someone else
/// wrote in between, so no step saves a stale copy over another's work.
struct EntityRecord<E: Entity>: Sendable {
    let store: any Store
    let notifications: EngineNotifications

    /// Applies `change` to the stored entity and saves it; throws `ChangeObsolete` when it no
    /// longer exists.
    @discardableResult
    func update(_ id: String, _ change: (inout E) -> Void) async throws -> E {
        var attempt = 0
        while true {
            attempt += 1
            guard var entity = try await store.fetch(E.self, id: id) else {
                throw ChangeObsolete.missing("the \(E.collection.rawValue.lowercased()) no longer exists")
            }
            change(&entity)
            do {
                let saved = try await store.update(entity)
                notifications.publish(.entity(E.collection, id: id, change: .modified))
                return saved
            } catch StoreError.conflict where attempt < 5 {
                continue
            }
        }
    }
}

/// A process's latest stored version, changed by a step.
typealias ProcessRecord = EntityRecord<ServiceProcess>

/// The payload of every process step: the process it acts on, re-read when the step runs.
struct ProcessSubject: Codable, Sendable {
    var processId: String
}
