import Foundation
import GRDB

/// The queue on SQLite: every lease operation is one write transaction, so it is atomic across
/// the processes sharing the file.
extension SQLiteStore {
    public func leaseNextChange(owner: String, kinds: Set<PendingChangeKind>, changeId: String?, leaseUntil: Date,
                                now: Date) async throws -> PendingChange? {
        guard !kinds.isEmpty else { return nil }
        let lease = NextLease(owner: owner, kinds: kinds, changeId: changeId, leaseUntil: leaseUntil, now: now)
        let documents = self.documents
        return try await writing { db in try Self.leaseNext(lease, in: db, documents: documents) }
    }

    /// A worker's next lease, as `leaseNextChange` takes it.
    private struct NextLease: Sendable {
        let owner: String
        let kinds: Set<PendingChangeKind>
        let changeId: String?
        let leaseUntil: Date
        let now: Date
    }

    /// Leases the next due change inside the caller's transaction.
    private static func leaseNext(_ lease: NextLease, in db: Database, documents: DocumentCoder) throws -> PendingChange? {
        let nowMillis = lease.now.epochMilliseconds
        let kindsJSON = String(decoding: try JSONEncoder().encode(lease.kinds.map(\.rawValue).sorted()), as: UTF8.self)
        let held = try String.fetchAll(db.cachedStatement(sql: SQLiteSchema.leasedResourcesSQL), arguments: [nowMillis])
        let heldJSON = String(decoding: try JSONEncoder().encode(held), as: UTF8.self)
        let candidates = try [SQLiteSchema.dueChangeSQL, SQLiteSchema.expiredLeaseSQL].compactMap { sql in
            try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [nowMillis, heldJSON, kindsJSON, lease.changeId])
        }
        guard let next = candidates.min(by: { ($0["runAt"] as Int64, $0["id"] as String) < ($1["runAt"], $1["id"]) }) else {
            return nil
        }
        var change = try documents.decode(PendingChange.self, row: next)
        change.state = .running
        change.leaseOwner = lease.owner
        change.leaseExpiry = lease.leaseUntil
        change.count += 1
        change.updated = lease.now
        return try replace(change, in: db, documents: documents)
    }

    public func renewLease(changeId: String, owner: String, leaseUntil: Date, now: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner, now: now) { $0.leaseExpiry = leaseUntil }
    }

    public func closeLease(changeId: String, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date)
        async throws -> PendingChange
    {
        try await modifyLeased(changeId: changeId, owner: owner, now: now, recording: audit) { $0.close(outcome, at: now) }
    }

    /// One transaction: a worker's step costs a single commit. A failure to lease the next change
    /// does not undo the outcome; the worker then looks again through `leaseNextChange`.
    public func closeLease(changeId: String, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date,
                           thenLease kinds: Set<PendingChangeKind>, leaseUntil: Date) async throws -> PendingChange?
    {
        let documents = self.documents
        let lease = NextLease(owner: owner, kinds: kinds, changeId: nil, leaseUntil: leaseUntil, now: now)
        return try await writing { db -> PendingChange? in
            _ = try Self.modifyLeased(changeId: changeId, owner: owner, now: now, recording: audit, in: db, documents: documents) {
                $0.close(outcome, at: now)
            }
            guard !kinds.isEmpty else { return nil }
            do {
                return try Self.leaseNext(lease, in: db, documents: documents)
            } catch {
                Self.logger.warning("cannot lease the next change after \(changeId): \(error)")
                return nil
            }
        }
    }

    /// Applies `modify` to a change this owner holds an unexpired lease on and inserts `audit`, in
    /// one transaction.
    private func modifyLeased(changeId: String, owner: String, now: Date, recording audit: AuditEvent? = nil,
                              _ modify: @escaping @Sendable (inout PendingChange) -> Void) async throws -> PendingChange
    {
        let documents = self.documents
        return try await writing { db in
            try Self.modifyLeased(changeId: changeId, owner: owner, now: now, recording: audit, in: db, documents: documents, modify)
        }
    }

    /// `modifyLeased` inside the caller's transaction. A failed audit insert fails only its own
    /// statement, not the transaction.
    private static func modifyLeased(changeId: String, owner: String, now: Date, recording audit: AuditEvent?, in db: Database,
                                     documents: DocumentCoder, _ modify: (inout PendingChange) -> Void) throws -> PendingChange
    {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT revision, data FROM PendingChange WHERE id = ?"),
                                         arguments: [changeId]) else {
            throw StoreError.leaseLost(changeId: changeId, owner: owner)
        }
        var change = try documents.decode(PendingChange.self, row: row)
        guard change.isLeased(by: owner, at: now) else { throw StoreError.leaseLost(changeId: changeId, owner: owner) }
        modify(&change)
        let stored = try Self.replace(change, in: db, documents: documents)
        if let audit {
            do { _ = try Self.insertRow(audit, in: db, documents: documents) } catch {
                Self.logger.warning("cannot record \(audit.action) of \(audit.target) in the audit log: \(error)")
            }
        }
        return stored
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
