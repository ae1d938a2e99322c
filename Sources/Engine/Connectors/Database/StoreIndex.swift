import Foundation

/// An index every backend keeps, so the managers' queries stay fast and unique fields stay unique.
struct StoreIndex: Sendable {
    let collection: EntityCollection
    let name: String
    let fields: [String]
    let unique: Bool
    /// Whether SQLite keeps it too (it cannot index array elements, and has a partial index of
    /// its own for the queue's due order).
    let inSQLite: Bool
    /// Whether documents without the field stay out of the index (MongoDB; SQLite's unique
    /// indexes never compare NULLs): documents older than the field do not collide.
    let sparse: Bool
    /// The store schema that brought it: a migration makes only the indexes of its version and
    /// before (a unique index must wait for the migration that first removes duplicates).
    let since: Int

    init(_ collection: EntityCollection, _ name: String, _ fields: [String], unique: Bool = false, inSQLite: Bool = true,
         sparse: Bool = false, since: Int = 1) {
        self.collection = collection
        self.name = name
        self.fields = fields
        self.unique = unique
        self.inSQLite = inSQLite
        self.sparse = sparse
        self.since = since
    }

    static let all: [StoreIndex] = [
        StoreIndex(.user, "User_username", ["username"], unique: true),
        StoreIndex(.nodePool, "NodePool_name", ["name"], unique: true, since: 8),
        StoreIndex(.node, "Node_dockerId", ["dockerId"], unique: true),
        StoreIndex(.node, "Node_kind", ["kind"]),
        StoreIndex(.process, "Process_userId", ["userId"]),
        StoreIndex(.process, "Process_user_name", ["userId", "name"], unique: true, since: 8),
        StoreIndex(.process, "Process_token", ["token"]),
        StoreIndex(.process, "Process_dockerId", ["dockerId"]),
        StoreIndex(.process, "Process_runningNodeId", ["runningNodeId"]),
        StoreIndex(.connection, "Connection_endpoint1", ["endpoint1.processId"]),
        StoreIndex(.connection, "Connection_endpoint2", ["endpoint2.processId"]),
        StoreIndex(.connection, "Connection_pair", ["pair"], unique: true, sparse: true),
        StoreIndex(.pendingChange, "PendingChange_due", ["state", "runAt"], inSQLite: false),
        StoreIndex(.pendingChange, "PendingChange_lease", ["state", "leaseExpiry"]),
        StoreIndex(.pendingChange, "PendingChange_userId", ["userId"]),
        StoreIndex(.pendingChange, "PendingChange_resources", ["resources"], inSQLite: false),
        StoreIndex(.pendingChange, "PendingChange_created", ["created"]),
        StoreIndex(.pendingChange, "PendingChange_type", ["type", "state"]),
        StoreIndex(.pendingChange, "PendingChange_ended", ["state", "updated"]),
        StoreIndex(.auditEvent, "AuditEvent_target", ["target"]),
        StoreIndex(.auditEvent, "AuditEvent_changeId", ["changeId"], since: 8),
        StoreIndex(.auditEvent, "AuditEvent_time", ["time"]),
        StoreIndex(.accessToken, "AccessToken_tokenHash", ["tokenHash"], unique: true),
        StoreIndex(.accessToken, "AccessToken_userId", ["userId"]),
        StoreIndex(.accessToken, "AccessToken_expires", ["expires"]),
    ]

    /// The unique index whose name appears in a database's duplicate-key message.
    static func unique(in collection: EntityCollection, mentionedIn message: String) -> StoreIndex? {
        all.first { $0.collection == collection && $0.unique && message.contains($0.name) }
    }
}

extension StoreError {
    /// The `duplicate` error for a unique-index violation reported with `message`.
    static func duplicate<E: Entity>(_ entity: E, databaseMessage message: String) -> StoreError {
        // A compound index (a user's process names) names the field that clashed last.
        guard let index = StoreIndex.unique(in: E.collection, mentionedIn: message), let field = index.fields.last else {
            return .duplicate(E.collection, field: "id", value: entity.id)
        }
        let value = (try? ModelCoding.encoder().encode(entity))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }?[field].map { "\($0)" } ?? "?"
        return .duplicate(E.collection, field: field, value: value)
    }
}

