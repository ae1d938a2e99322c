import Foundation

/// Which changes a listing shows. Empty lists mean "any".
public struct ChangeFilter: Sendable, Equatable {
    public var states: [PendingChangeState]
    public var kinds: [PendingChangeKind]
    /// The owner: a username or user id.
    public var user: String?
    /// An id the change locks (a node, a process, ...).
    public var resource: String?
    public var offset: Int
    public var limit: Int?

    public init(states: [PendingChangeState] = [], kinds: [PendingChangeKind] = [], user: String? = nil,
                resource: String? = nil, offset: Int = 0, limit: Int? = nil) {
        self.states = states
        self.kinds = kinds
        self.user = user
        self.resource = resource
        self.offset = offset
        self.limit = limit
    }
}

/// What operators do with the queue: look at it and steer it. A user sees and steers the
/// changes made on their behalf; an admin every change.
extension PendingChangeManager {
    /// A page of the changes `filter` selects that `caller` may see, newest first.
    public func changes(_ filter: ChangeFilter, by caller: Caller) async throws -> StorePage<PendingChange> {
        var conditions: [StoreFilter] = []
        if !filter.states.isEmpty { conditions.append(.isIn("state", filter.states.map { .string($0.rawValue) })) }
        if !filter.kinds.isEmpty { conditions.append(.isIn("type", filter.kinds.map { .string($0.rawValue) })) }
        if let user = filter.user, !caller.isAdmin {
            // A user asking about someone else sees nothing, and learns nothing of who exists.
            let own = caller.userId.map { user == $0 } ?? false
            let named = try await store.first(User.self, .where("id", is: caller.userId ?? "")).map { $0.username == user } ?? false
            guard own || named else { return StorePage(items: [], total: 0) }
        } else if let user = filter.user {
            guard let owner = try await store.first(User.self, .or([.where("id", is: user), .where("username", is: user)])) else {
                throw QueueError.unknownUser(user)
            }
            conditions.append(.where("userId", is: owner.id))
        }
        if let resource = filter.resource { conditions.append(.contains("resources", .string(resource))) }
        if !caller.isAdmin { conditions.append(.where("userId", is: caller.userId ?? "")) }
        return try await store.list(PendingChange.self, StoreQuery(
            filter: .and(conditions), sort: Self.newestFirst, offset: filter.offset, limit: filter.limit))
    }

    /// The order of the queue's listings: newest first, served by the `created` index.
    public static let newestFirst = [StoreSort("created", ascending: false), StoreSort("id", ascending: false)]

    /// One change `caller` may see.
    public func change(_ id: String, by caller: Caller) async throws -> PendingChange {
        guard let change = try await store.fetch(PendingChange.self, id: id), caller.mayActOn(change) else {
            throw QueueError.notFound(id)
        }
        return change
    }

    /// The audit trail of one change, oldest first.
    public func history(of id: String, by caller: Caller) async throws -> [AuditEvent] {
        _ = try await change(id, by: caller)
        return try await store.list(AuditEvent.self, StoreQuery(filter: .where("changeId", is: id), sort: [StoreSort("time")]))
            .items
    }

    /// Runs a waiting or failed change again now, with a fresh attempt count.
    @discardableResult
    public func retry(_ id: String, by caller: Caller) async throws -> PendingChange {
        defer { doorbell.ring() }
        return try await steer(id, by: caller, action: "change.retried") { change in
            guard change.isWaiting || change.state == .failedPermanently else {
                throw QueueError.notRetryable(id: id, state: change.state)
            }
            change.state = change.state == .new ? .new : .failedTemporary
            change.count = 0
            change.runAt = self.settings.clock()
        }
    }

    /// Stops a change that has not started: it ends `CANCELLED` and never runs.
    @discardableResult
    public func cancel(_ id: String, by caller: Caller) async throws -> PendingChange {
        let cancelled = try await steer(id, by: caller, action: "change.cancelled") { change in
            guard change.isWaiting else { throw QueueError.notCancellable(id: id, state: change.state) }
            change.end(in: .cancelled, reason: "cancelled by \(caller.name)", at: self.settings.clock())
        }
        await abandoned(cancelled)
        return cancelled
    }

    /// Removes a change that failed for good (or was cancelled) from the queue; its audit trail stays.
    public func dismiss(_ id: String, by caller: Caller) async throws {
        let change = try await change(id, by: caller)
        guard change.state == .failedPermanently || change.state == .cancelled else {
            throw QueueError.notDismissable(id: id, state: change.state)
        }
        do {
            guard try await store.delete(PendingChange.self, id: id, revision: change.revision) else {
                throw QueueError.notFound(id)
            }
        } catch StoreError.conflict {
            throw QueueError.changedMeanwhile(id)
        }
        await audit(change, action: "change.dismissed", detail: change.description, actor: caller.name)
        notifications.publish(.entity(.pendingChange, id: id, change: .deleted))
    }

    /// Applies an operator's `edit` to a change that is not running, at the revision it was read
    /// at: a worker leasing it meanwhile wins and the operator is told.
    private func steer(_ id: String, by caller: Caller, action: String,
                       _ edit: (inout PendingChange) throws -> Void) async throws -> PendingChange {
        let change = try await change(id, by: caller)
        if change.isLeased(at: settings.clock()) { throw QueueError.running(id: id, owner: change.leaseOwner ?? "?") }
        var edited = change
        try edit(&edited)
        edited.updated = settings.clock()
        let stored: PendingChange
        do {
            stored = try await store.update(edited)
        } catch StoreError.conflict {
            throw QueueError.changedMeanwhile(id)
        }
        await audit(stored, action: action, detail: stored.description, actor: caller.name)
        notifications.publish(.entity(.pendingChange, id: id, change: .modified))
        return stored
    }

    /// Removes finished and cancelled changes older than `keepFinished`, changes failed for good
    /// older than `keepFailed`, and audit events older than `keepAudit`; returns how many of each.
    @discardableResult
    public func prune() async throws -> (changes: Int, auditEvents: Int) {
        let now = settings.clock()
        var changes = 0
        for (states, age) in [([PendingChangeState.finished, .cancelled], settings.keepFinished), ([.failedPermanently], settings.keepFailed)] {
            changes += try await store.deleteAll(PendingChange.self, .and([
                .isIn("state", states.map { .string($0.rawValue) }), .lessThan("updated", .date(now.addingTimeInterval(-age.seconds))),
            ]))
        }
        let events = try await store.deleteAll(AuditEvent.self,
                                               .lessThan("time", .date(now.addingTimeInterval(-settings.keepAudit.seconds))))
        if changes > 0 || events > 0 { logger.info("pruned \(changes) ended changes and \(events) audit events") }
        return (changes, events)
    }
}

extension Caller {
    /// Whether this caller may see and steer `change`: an admin, or the user it runs for.
    func mayActOn(_ change: PendingChange) -> Bool {
        isAdmin || (userId != nil && change.userId == userId)
    }
}

/// Why a queue operation was refused.
public enum QueueError: UserFacingError, Equatable {
    case notFound(String)
    case running(id: String, owner: String)
    case notRetryable(id: String, state: PendingChangeState)
    case notCancellable(id: String, state: PendingChangeState)
    case notDismissable(id: String, state: PendingChangeState)
    case changedMeanwhile(String)
    case unknownUser(String)

    public var failureKind: FailureKind {
        switch self {
        case .notFound, .unknownUser: return .notFound
        case .running, .notRetryable, .notCancellable, .notDismissable, .changedMeanwhile: return .conflict
        }
    }

    public var userMessage: String {
        switch self {
        case .notFound(let id):
            return "no pending change \(id); `defpi change ls` lists them"
        case .running(let id, let owner):
            return "change \(id) is running now (on \(owner)); wait for it to end, then look again"
        case .notRetryable(let id, let state):
            return "change \(id) is \(state.rawValue), nothing to retry; only waiting or failed changes are retried"
        case .notCancellable(let id, let state):
            return "change \(id) is \(state.rawValue); only a change that has not started (NEW or FAILED_TEMPORARY) can be cancelled"
        case .notDismissable(let id, let state):
            return "change \(id) is \(state.rawValue); only a change that failed for good or was cancelled can be dismissed"
        case .unknownUser(let user):
            return "no user named \(user); `defpi user ls` lists them"
        case .changedMeanwhile(let id):
            return "change \(id) started or changed meanwhile; look at it again (`defpi change show \(id)`)"
        }
    }
}
