import Foundation
import GRDB

/// The queue on SQLite: every lease operation is one write transaction, so it is atomic across
/// the processes sharing the file.
extension SQLiteStore {
    public func leaseNextChange(owner: String, kinds: Set<PendingChangeKind>, changeId: String?, leaseUntil: Date,
                                now: Date) async throws -> PendingChange? {
        guard !kinds.isEmpty else { return nil }
        let documents = self.documents
        let nowMillis = now.epochMilliseconds
        let kindsJSON = String(decoding: try JSONEncoder().encode(kinds.map(\.rawValue).sorted()), as: UTF8.self)
        return try await writing { db -> PendingChange? in
            let held = try String.fetchAll(db.cachedStatement(sql: SQLiteSchema.leasedResourcesSQL), arguments: [nowMillis])
            let heldJSON = String(decoding: try JSONEncoder().encode(held), as: UTF8.self)
            let candidates = try [SQLiteSchema.dueChangeSQL, SQLiteSchema.expiredLeaseSQL].compactMap { sql in
                try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [nowMillis, heldJSON, kindsJSON, changeId])
            }
            guard let next = candidates.min(by: { ($0["runAt"] as Int64, $0["id"] as String) < ($1["runAt"], $1["id"]) }) else {
                return nil
            }
            var change = try documents.decode(PendingChange.self, row: next)
            change.state = .running
            change.leaseOwner = owner
            change.leaseExpiry = leaseUntil
            change.count += 1
            change.updated = now
            return try Self.replace(change, in: db, documents: documents)
        }
    }

    public func renewLease(changeId: String, owner: String, leaseUntil: Date, now: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner, now: now) { $0.leaseExpiry = leaseUntil }
    }

    public func finishChange(changeId: String, owner: String, now: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner, now: now) { $0.release(to: .finished, at: now) }
    }

    public func failChange(changeId: String, owner: String, error: String, retryAt: Date?, now: Date) async throws
        -> PendingChange
    {
        try await modifyLeased(changeId: changeId, owner: owner, now: now) {
            $0.recordFailure(error, retryAt: retryAt, now: now)
        }
    }

    public func endChange(changeId: String, owner: String, state: PendingChangeState, reason: String, now: Date)
        async throws -> PendingChange
    {
        try await modifyLeased(changeId: changeId, owner: owner, now: now) { $0.end(in: state, reason: reason, at: now) }
    }

    public func releaseLease(changeId: String, owner: String, now: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner, now: now) { $0.giveBack(at: now) }
    }

    /// Applies `modify` to a change this owner holds an unexpired lease on, in one transaction.
    private func modifyLeased(changeId: String, owner: String, now: Date,
                              _ modify: @escaping @Sendable (inout PendingChange) -> Void) async throws -> PendingChange
    {
        let documents = self.documents
        return try await writing { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT revision, data FROM PendingChange WHERE id = ?"),
                                             arguments: [changeId]) else {
                throw StoreError.leaseLost(changeId: changeId, owner: owner)
            }
            var change = try documents.decode(PendingChange.self, row: row)
            guard change.isLeased(by: owner, at: now) else { throw StoreError.leaseLost(changeId: changeId, owner: owner) }
            modify(&change)
            return try Self.replace(change, in: db, documents: documents)
        }
    }

    /// Writes `change` over the row it was read from, inside the caller's transaction.
    private static func replace(_ change: PendingChange, in db: Database, documents: DocumentCoder) throws -> PendingChange {
        var stored = change
        stored.revision += 1
        try db.cachedStatement(sql: "UPDATE PendingChange SET revision = ?, data = ? WHERE id = ? AND revision = ?")
            .execute(arguments: [stored.revision, try documents.encode(stored), change.id, change.revision])
        return stored
    }

    /// How SQLite would run a listing: the lines of `EXPLAIN QUERY PLAN`, to check that an index
    /// serves it.
    public func queryPlan<E: Entity>(_ type: E.Type, _ query: StoreQuery) async throws -> [String] {
        let condition = SQLiteQuery(query.filter)
        let sql = "SELECT revision, data FROM \"\(E.collection.rawValue)\" WHERE \(condition.sql) ORDER BY \(SQLiteQuery.order(query.sort))"
            + (query.limit.map { " LIMIT \($0)" } ?? "")
        return try await reading { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: condition.arguments).map { $0["detail"] as String }
        }
    }
}
