import Foundation
import GRDB

/// The queue on SQLite: every lease operation is one write transaction, so it is atomic across
/// the processes sharing the file.
extension SQLiteStore {
    public func leaseNextChange(owner: String, kinds: Set<PendingChangeKind>, changeId: String?, leaseUntil: Date,
                                now: Date) async throws -> PendingChange? {
        guard !kinds.isEmpty else { return nil }
        let lease = try NextLease(owner: owner, kinds: kinds, changeId: changeId, leaseUntil: leaseUntil, now: now)
        let leased = try await writing { db in try Self.leaseNext(lease, in: db) }
        return try leased.map { try documents.decode(PendingChange.self, $0) }
    }

    /// A worker's next lease, as `leaseNextChange` takes it; the kinds are encoded here, outside
    /// the writer (the queue's bottleneck).
    private struct NextLease: Sendable {
        let owner: String
        let kinds: String
        let changeId: String?
        let leaseUntil: Date
        let now: Date

        init(owner: String, kinds: Set<PendingChangeKind>, changeId: String?, leaseUntil: Date, now: Date) throws {
            self.owner = owner
            self.kinds = try SQLiteStore.jsonArray(kinds.map(\.rawValue))
            self.changeId = changeId
            self.leaseUntil = leaseUntil
            self.now = now
        }
    }

    /// Leases the next due change inside the caller's transaction; returns its new document,
    /// which the caller decodes outside the transaction (the writer is the queue's bottleneck).
    private static func leaseNext(_ lease: NextLease, in db: Database) throws -> StoredDocument? {
        let nowMillis = lease.now.epochMilliseconds
        let held = try String.fetchAll(db.cachedStatement(sql: SQLiteSchema.leasedResourcesSQL), arguments: [nowMillis])
        let arguments: StatementArguments = [nowMillis, try jsonArray(held), lease.kinds, lease.changeId]
        let candidates = try [SQLiteSchema.dueChangeSQL, SQLiteSchema.expiredLeaseSQL].compactMap { sql in
            try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
        }
        guard let next = candidates.min(by: { ($0["runAt"] as Int64, $0["id"] as String) < ($1["runAt"], $1["id"]) }) else {
            return nil
        }
        return try Row.fetchOne(db.cachedStatement(sql: SQLiteSchema.leaseSQL), arguments: [
            lease.owner, lease.leaseUntil.epochMilliseconds, nowMillis, next["id"] as String,
        ]).map(StoredDocument.init)
    }

    fileprivate static func jsonArray(_ strings: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(strings), as: UTF8.self)
    }

    public func renewLease(changeId: String, owner: String, leaseUntil: Date, now: Date) async throws -> PendingChange {
        let documents = self.documents
        return try await writing { db in
            try Self.modifyLeased(changeId: changeId, owner: owner, now: now, in: db, documents: documents) {
                $0.leaseExpiry = leaseUntil
            }
        }
    }

    public func closeLease(_ held: PendingChange, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date)
        async throws -> PendingChange
    {
        let closing = try Closing(held, owner: owner, outcome: outcome, audit: audit, now: now, documents: documents)
        let documents = self.documents
        return try await writing { db in try Self.close(closing, in: db, documents: documents) }
    }

    /// One transaction: a worker's step costs a single commit. A failure to lease the next change
    /// does not undo the outcome; the worker then looks again through `leaseNextChange`.
    public func closeLease(_ held: PendingChange, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date,
                           thenLease kinds: Set<PendingChangeKind>, leaseUntil: Date) async throws -> PendingChange?
    {
        let closing = try Closing(held, owner: owner, outcome: outcome, audit: audit, now: now, documents: documents)
        let lease = try NextLease(owner: owner, kinds: kinds, changeId: nil, leaseUntil: leaseUntil, now: now)
        let documents = self.documents
        let next = try await writing { db -> StoredDocument? in
            _ = try Self.close(closing, in: db, documents: documents)
            guard !kinds.isEmpty else { return nil }
            do {
                return try Self.leaseNext(lease, in: db)
            } catch {
                Self.logger.warning("cannot lease the next change after \(held.id): \(error)")
                return nil
            }
        }
        return try next.map { try documents.decode(PendingChange.self, $0) }
    }

    /// A lease's outcome, prepared outside the writer: when the worker's copy shows its lease
    /// still held, the closed document and its audit record are encoded up front, and the writer
    /// only compares the revision and writes.
    private struct Closing: Sendable {
        let changeId: String
        let owner: String
        let outcome: LeaseOutcome
        let now: Date
        /// The closed change and its document, when the worker's copy holds the lease.
        let closed: (change: PendingChange, data: String, overRevision: Int)?
        let audit: AuditEvent?
        let auditData: String?

        init(_ held: PendingChange, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date,
             documents: DocumentCoder) throws {
            changeId = held.id
            self.owner = owner
            self.outcome = outcome
            self.now = now
            self.audit = audit.map { $0.atRevision(1) }
            auditData = self.audit.flatMap { try? documents.encode($0) }  // History never fails the outcome.
            if held.isLeased(by: owner, at: now) {
                var change = held
                change.close(outcome, at: now)
                change.revision += 1
                closed = (change, try documents.encode(change), held.revision)
            } else {
                closed = nil
            }
        }
    }

    /// Writes a lease's outcome and its audit record inside the caller's transaction: over the
    /// worker's copy when the stored revision is still that copy's, else by re-reading the change
    /// (a renewal the worker did not hear of, or a lease lost).
    private static func close(_ closing: Closing, in db: Database, documents: DocumentCoder) throws -> PendingChange {
        let closed: PendingChange
        if let fast = closing.closed, try compareAndSet(fast.change.id, revision: fast.change.revision,
                                                        data: fast.data, over: fast.overRevision, in: db) {
            closed = fast.change
        } else {
            closed = try modifyLeased(changeId: closing.changeId, owner: closing.owner, now: closing.now, in: db,
                                      documents: documents) { $0.close(closing.outcome, at: closing.now) }
        }
        if let audit = closing.audit, let data = closing.auditData {
            do { try insertDocument(AuditEvent.collection, id: audit.id, data: data, in: db) } catch {
                Self.logger.warning("cannot record \(audit.action) of \(audit.target) in the audit log: \(error)")
            }
        }
        return closed
    }

    /// Applies `modify` to a change this owner holds an unexpired lease on, inside the caller's
    /// transaction.
    private static func modifyLeased(changeId: String, owner: String, now: Date, in db: Database, documents: DocumentCoder,
                                     _ modify: (inout PendingChange) -> Void) throws -> PendingChange
    {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT revision, data FROM PendingChange WHERE id = ?"),
                                         arguments: [changeId]) else {
            throw StoreError.leaseLost(changeId: changeId, owner: owner)
        }
        var change = try documents.decode(PendingChange.self, row: row)
        guard change.isLeased(by: owner, at: now) else { throw StoreError.leaseLost(changeId: changeId, owner: owner) }
        modify(&change)
        let read = change.revision
        change.revision += 1
        _ = try compareAndSet(change.id, revision: change.revision, data: try documents.encode(change), over: read, in: db)
        return change  // Read in this transaction: the revision still matches.
    }

    /// Writes `data` at `revision` over the row of `id` if it is still at revision `over`; returns
    /// whether it was.
    private static func compareAndSet(_ id: String, revision: Int, data: String, over: Int, in db: Database) throws -> Bool {
        try db.cachedStatement(sql: "UPDATE PendingChange SET revision = ?, data = ? WHERE id = ? AND revision = ?")
            .execute(arguments: [revision, data, id, over])
        return db.changesCount == 1
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
