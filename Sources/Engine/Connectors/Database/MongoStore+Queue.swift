import CMongoc
import Foundation

/// The queue on MongoDB. A change is leased by a compare-and-set on its revision, after taking a
/// `PendingChangeLock` document (unique `_id` = the resource) for each of its resources, so two
/// changes sharing a resource never run at once, across engines.
extension MongoStore {
    static let lockCollection = "PendingChangeLock"
    static let dueChangesPage = 64

    public func leaseNextChange(owner: String, kinds: Set<PendingChangeKind>, changeId: String?, leaseUntil: Date,
                                now: Date) async throws -> PendingChange? {
        guard !kinds.isEmpty else { return nil }
        return try await run { client in
            try self.withCollection(client, EntityCollection.pendingChange.rawValue) { changes in
                try self.withCollection(client, Self.lockCollection) { locks in
                    var conditions: [StoreFilter] = [
                        .or([
                            .and([.isIn("state", [.string("NEW"), .string("FAILED_TEMPORARY")]), .not(.greaterThan("runAt", .date(now)))]),
                            .and([.equals("state", .string("RUNNING")), .not(.greaterThan("leaseExpiry", .date(now)))]),
                        ]),
                        .isIn("type", kinds.map { .string($0.rawValue) }),
                    ]
                    if let changeId { conditions.append(.equals("id", .string(changeId))) }
                    let due = BSONMapping.query(.and(conditions))
                    var offset = 0
                    while true {
                        let page = try changes.find(due, options: Self.findOptions(
                            sort: [StoreSort("runAt")], offset: offset, limit: Self.dueChangesPage))
                        for document in page {
                            let read = try BSONMapping.entity(PendingChange.self, from: document)
                            let leaseId = ObjectID.generate()
                            guard try Self.lock(read, leaseId: leaseId, until: leaseUntil, now: now, in: locks) else { continue }
                            var change = read
                            change.state = .running
                            change.leaseOwner = owner
                            change.leaseExpiry = leaseUntil
                            change.count += 1
                            change.updated = now
                            change.revision += 1
                            let filter = Self.revisionFilter(id: read.id, revision: read.revision)
                            if case .success(1) = try changes.replaceOne(filter, with: BSONMapping.document(for: change)) {
                                return change
                            }
                            try locks.delete(BSONMapping.query(.equals("leaseId", .string(leaseId))), many: true)
                        }
                        guard page.count == Self.dueChangesPage else { return nil }
                        offset += page.count
                    }
                }
            }
        }
    }

    /// Takes the lock of every resource of `change` for the lease attempt `leaseId`, or none of
    /// them. A lock whose lease has expired is taken over.
    private static func lock(_ change: PendingChange, leaseId: String, until: Date, now: Date, in locks: MongoCollection) throws -> Bool {
        for resource in Set(change.resources).sorted() {
            let lock = BSONDocument()
            // Stored as the filters below look it up: an ObjectId when the resource is one.
            lock.append("_id", .string(resource), objectID: true)
            lock.append("changeId", .string(change.id))
            lock.append("leaseId", .string(leaseId))
            lock.append("expiry", .date(until))
            if case .inserted = try locks.insert(lock) { continue }
            let expired = BSONMapping.query(.and([.equals("id", .string(resource)), .not(.greaterThan("expiry", .date(now)))]))
            if case .success(1) = try locks.replaceOne(expired, with: lock) { continue }
            try locks.delete(BSONMapping.query(.equals("leaseId", .string(leaseId))), many: true)
            return false
        }
        return true
    }

    public func renewLease(changeId: String, owner: String, leaseUntil: Date, now: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner, now: now) { change, locks in
            change.leaseExpiry = leaseUntil
            let set = BSONDocument()
            set.append("expiry", .date(leaseUntil))
            let update = BSONDocument()
            update.append("$set", document: set)
            try locks.updateMany(BSONMapping.query(.equals("changeId", .string(changeId))), update)
        }
    }

    /// The audit event follows the change's write: MongoDB without a replica set has no
    /// transactions, and a lost audit event must not fail an outcome that took effect.
    public func closeLease(_ held: PendingChange, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date)
        async throws -> PendingChange
    {
        let closed = try await modifyLeased(changeId: held.id, owner: owner, now: now, releasing: true) { change, _ in
            change.close(outcome, at: now)
        }
        if let audit { await self.audit(audit, logger: Self.logger) }
        return closed
    }

    /// Applies `modify` to a change this owner holds an unexpired lease on, then writes it back (compare-and-set on
    /// its revision); with `releasing`, drops its resource locks afterwards.
    private func modifyLeased(changeId: String, owner: String, now: Date, releasing: Bool = false,
                              _ modify: @escaping @Sendable (inout PendingChange, MongoCollection) throws -> Void)
        async throws -> PendingChange
    {
        try await run { client in
            try self.withCollection(client, EntityCollection.pendingChange.rawValue) { changes in
                try self.withCollection(client, Self.lockCollection) { locks in
                    guard let document = try changes.find(Self.revisionFilter(id: changeId, revision: nil)).first else {
                        throw StoreError.leaseLost(changeId: changeId, owner: owner)
                    }
                    let read = try BSONMapping.entity(PendingChange.self, from: document)
                    guard read.isLeased(by: owner, at: now) else {
                        throw StoreError.leaseLost(changeId: changeId, owner: owner)
                    }
                    var change = read
                    try modify(&change, locks)
                    change.revision += 1
                    let filter = Self.revisionFilter(id: changeId, revision: read.revision)
                    guard case .success(1) = try changes.replaceOne(filter, with: BSONMapping.document(for: change)) else {
                        throw StoreError.leaseLost(changeId: changeId, owner: owner)
                    }
                    if releasing { try locks.delete(BSONMapping.query(.equals("changeId", .string(changeId))), many: true) }
                    return change
                }
            }
        }
    }
}
