import Foundation
import Logging

/// The persistent truth shared by every Engine that runs against it. Writes are optimistic: an
/// update or delete names the revision it was based on and fails with `StoreError.conflict` when
/// someone else wrote in between. The queue primitives are atomic across processes.
public protocol Store: Sendable {
    /// Where the store lives, safe to print (passwords redacted).
    var location: String { get }
    /// A random id given to the store when it was created, the same for every engine on it. It
    /// marks what defpi writes outside the store (a node's Docker labels), so that two stores
    /// on one swarm never take each other's marks for drift.
    var identity: String { get }

    /// Stores a new entity at revision 1 and returns it as stored.
    func insert<E: Entity>(_ entity: E) async throws -> E
    /// Replaces an entity whose stored revision equals `entity.revision`; returns it at the next
    /// revision. Throws `conflict` when the revision is stale, `notFound` when it is gone.
    func update<E: Entity>(_ entity: E) async throws -> E
    /// The entity with this id, or nil.
    func fetch<E: Entity>(_ type: E.Type, id: String) async throws -> E?
    /// Removes an entity; with `revision`, only if that is still the stored revision. Returns
    /// false when nothing was stored under the id.
    @discardableResult
    func delete<E: Entity>(_ type: E.Type, id: String, revision: Int?) async throws -> Bool
    /// A page of the entities that match `query`, with the total number of matches.
    func list<E: Entity>(_ type: E.Type, _ query: StoreQuery) async throws -> StorePage<E>
    /// The number of entities that match `filter`.
    func count<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int

    /// Several writes that belong together (a desired state and the change that carries it out):
    /// one transaction where the backend has them (SQLite), else applied in order, stopping at the
    /// first failure (MongoDB without a replica set). Order a batch so that any prefix of it is safe.
    func write(_ batch: StoreBatch) async throws
    /// Removes every entity matching `filter`; returns how many.
    @discardableResult
    func deleteAll<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int

    // The queue. A lease is decided by the caller's clock (`now`); see `QueueSettings` for what
    // that asks of the engines' clocks. Every operation on a lease refuses, with `leaseLost`, a
    // lease this owner no longer holds or that has expired at `now`.

    /// Leases the due change (earliest `runAt` first) of one of `kinds`, none of whose resources
    /// is leased by anyone, taking over expired leases; with `changeId`, only that change. Nil
    /// when there is none.
    func leaseNextChange(owner: String, kinds: Set<PendingChangeKind>, changeId: String?, leaseUntil: Date, now: Date)
        async throws -> PendingChange?
    /// Extends a lease this owner holds.
    func renewLease(changeId: String, owner: String, leaseUntil: Date, now: Date) async throws -> PendingChange
    /// Ends a lease this owner holds with `outcome`, releasing the change's resources, and
    /// records `audit` with it: in the same transaction where the backend has them. Failing to
    /// record the audit event never fails the outcome (history is not state). `held` is the
    /// change as this owner last read or wrote it: while the stored revision is still its, a
    /// backend may write the outcome over it without reading the change again.
    func closeLease(_ held: PendingChange, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date) async throws
        -> PendingChange
    /// `closeLease`, then leases the next due change of `kinds` for the same owner (a worker going
    /// on): in one transaction where the backend has them. Returns the next change, if any.
    func closeLease(_ held: PendingChange, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date,
                    thenLease kinds: Set<PendingChangeKind>, leaseUntil: Date) async throws -> PendingChange?

    /// What the store holds, for `defpi store check`.
    func inventory() async throws -> StoreInventory

    /// A value that changes whenever anything in the store changes, from this process or
    /// another; nil when the backend cannot tell cheaply. Lets a front skip re-reading a store
    /// nobody wrote to.
    func changeMarker() async throws -> String?
}

extension Store {
    /// Appends a record to the audit log.
    public func record(_ event: AuditEvent) async throws {
        _ = try await insert(event)
    }

    /// Appends to the audit log, where a failure must not undo what was done: it is logged and
    /// the caller goes on.
    public func audit(_ event: AuditEvent, logger: Logger) async {
        do {
            try await record(event)
        } catch {
            logger.warning("cannot record \(event.action) of \(event.target) in the audit log: \(error)")
        }
    }

    /// Queues a new change (state `NEW`, no lease, no attempts yet).
    public func enqueue(_ change: PendingChange) async throws -> PendingChange {
        try await insert(change.queued)
    }

    /// Two calls, for backends without transactions. A failure to lease the next change is not
    /// the outcome's: nil, and the worker's loop looks again (and reports what keeps failing).
    public func closeLease(_ held: PendingChange, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date,
                           thenLease kinds: Set<PendingChangeKind>, leaseUntil: Date) async throws -> PendingChange?
    {
        _ = try await closeLease(held, owner: owner, outcome: outcome, audit: audit, now: now)
        return (try? await leaseNextChange(owner: owner, kinds: kinds, leaseUntil: leaseUntil, now: now)) ?? nil
    }

    /// Leases the next due change of one of `kinds`, whichever it is.
    public func leaseNextChange(owner: String, kinds: Set<PendingChangeKind>, leaseUntil: Date, now: Date) async throws
        -> PendingChange?
    {
        try await leaseNextChange(owner: owner, kinds: kinds, changeId: nil, leaseUntil: leaseUntil, now: now)
    }

    /// All entities matching `filter`, in id order.
    public func all<E: Entity>(_ type: E.Type, _ filter: StoreFilter = .all) async throws -> [E] {
        try await list(type, StoreQuery(filter: filter)).items
    }

    /// The first entity matching `filter`, or nil.
    public func first<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> E? {
        try await list(type, StoreQuery(filter: filter, limit: 1)).items.first
    }
}

/// Writes to apply together (see `Store.write`).
public struct StoreBatch: Sendable {
    enum Write: Sendable {
        case insert(any Entity)
        case update(any Entity)
        case delete(EntityCollection, id: String, revision: Int?)
    }

    private(set) var writes: [Write] = []

    public init() {}

    /// Stores a new entity (at revision 1).
    public mutating func insert<E: Entity>(_ entity: E) { writes.append(.insert(entity)) }
    /// Replaces an entity at its revision (the batch fails on a conflict).
    public mutating func update<E: Entity>(_ entity: E) { writes.append(.update(entity)) }
    /// Adds the writes of `other` after these.
    public mutating func append(_ other: StoreBatch) { writes += other.writes }
    /// Removes an entity, at `revision` when given.
    public mutating func delete<E: Entity>(_ type: E.Type, id: String, revision: Int?) {
        writes.append(.delete(E.collection, id: id, revision: revision))
    }
}

/// One page of a listing.
public struct StorePage<E: Entity>: Sendable {
    public var items: [E]
    /// Matches before paging.
    public var total: Int

    public init(items: [E], total: Int) {
        self.items = items
        self.total = total
    }
}

/// A summary of a store's contents.
public struct StoreInventory: Sendable, Equatable {
    /// Backend name, e.g. `SQLite 3.40.1` or `MongoDB wire version 21`.
    public var backend: String
    public var location: String
    /// The store's `identity`.
    public var identity: String
    /// The schema version the store is at.
    public var schemaVersion: Int
    /// Documents per collection.
    public var counts: [EntityCollection: Int]

    public init(backend: String, location: String, identity: String, schemaVersion: Int, counts: [EntityCollection: Int]) {
        self.backend = backend
        self.location = location
        self.identity = identity
        self.schemaVersion = schemaVersion
        self.counts = counts
    }
}

/// The schema version this build of defpi writes; a store at a higher version is refused.
/// Version 2 makes a node's swarm id unique (one defpi node per swarm node); version 3 indexes
/// the queue for its listings (by creation time, kind) and its pruning; 4 makes a connection's
/// pair unique; 5 adds access tokens; 6 adds provisional connections and password-stamped tokens;
/// 7 gives the store its identity; 8 adds user quotas (an older defpi would not keep them) and
/// makes a user's process names and pool names unique in the store.
public enum StoreSchema {
    public static let currentVersion = 8
}
