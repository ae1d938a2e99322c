import Foundation

/// One step of work in the persistent queue: it runs, possibly many times, until it has really
/// taken effect or has failed for good. Workers hold a change through a lease (owner + expiry);
/// an expired lease can be taken over by any worker.
public struct PendingChange: Entity {
    public static let collection = EntityCollection.pendingChange

    public var id: String
    public var revision: Int
    /// What the change does (the original's `type`).
    public var type: PendingChangeKind
    /// Human-readable summary for the queue pane.
    public var description: String
    /// Ids (process, connection, user ...) this change locks while it runs: changes that share
    /// one never run at the same time.
    public var resources: [String]
    public var state: PendingChangeState
    /// Attempts started so far.
    public var count: Int
    /// Earliest time of the next attempt.
    public var runAt: Date
    /// The worker holding the lease, while one does.
    public var leaseOwner: String?
    /// When the lease runs out.
    public var leaseExpiry: Date?
    /// The error text of the last failed attempt, for the operator.
    public var lastError: String?
    /// The owner (the user on whose behalf the change runs); visibility follows it.
    public var userId: String?
    /// Who queued the change (a username, or `defpi` for the Engine itself).
    public var createdBy: String
    public var created: Date
    public var updated: Date?
    /// The step's parameters (ids, targets) as its `Payload` type encodes them; never embedded
    /// copies of other entities, which the step re-reads when it runs.
    public var payload: JSONValue

    public init(id: String = ObjectID.generate(), revision: Int = 0, type: PendingChangeKind, description: String,
                resources: [String], state: PendingChangeState = .new, count: Int = 0, runAt: Date = Date(),
                leaseOwner: String? = nil, leaseExpiry: Date? = nil, lastError: String? = nil, userId: String? = nil,
                createdBy: String, created: Date = Date(), updated: Date? = nil, payload: JSONValue = .object([:])) {
        self.id = id
        self.revision = revision
        self.type = type
        self.description = description
        self.resources = resources
        self.state = state
        self.count = count
        self.runAt = runAt
        self.leaseOwner = leaseOwner
        self.leaseExpiry = leaseExpiry
        self.lastError = lastError
        self.userId = userId
        self.createdBy = createdBy
        self.created = created
        self.updated = updated
        self.payload = payload
    }

    /// A change of `step`'s kind carrying `payload`.
    public init<Step: ChangeStep>(_ step: Step.Type, _ payload: Step.Payload, description: String, resources: [String],
                                  userId: String? = nil, createdBy: String, runAt: Date = Date()) throws {
        self.init(type: Step.kind, description: description, resources: resources, runAt: runAt, userId: userId,
                  createdBy: createdBy, payload: try JSONValue(encoding: payload))
    }

    /// Whether a worker holds an unexpired lease at `now`.
    public func isLeased(at now: Date) -> Bool {
        state == .running && (leaseExpiry.map { $0 > now } ?? false)
    }

    /// Whether the change waits for a worker (queued, or failed and due to be retried).
    public var isWaiting: Bool { state == .new || state == .failedTemporary }
}

extension PendingChange {
    /// Ends the current lease in `state`.
    mutating func release(to state: PendingChangeState, at now: Date) {
        self.state = state
        leaseOwner = nil
        leaseExpiry = nil
        updated = now
    }

    /// The change as it enters the queue: `NEW`, no lease, no attempts yet.
    var queued: PendingChange {
        var change = self
        change.state = .new
        change.count = 0
        change.leaseOwner = nil
        change.leaseExpiry = nil
        change.lastError = nil
        change.updated = nil
        return change
    }

    /// Whether `owner` holds this change's lease and it has not expired at `now`.
    func isLeased(by owner: String, at now: Date) -> Bool {
        isLeased(at: now) && leaseOwner == owner
    }

    /// Ends the current lease for good in `state`, saying why.
    mutating func end(in state: PendingChangeState, reason: String, at now: Date) {
        release(to: state, at: now)
        lastError = reason
    }

    /// Ends the current lease with `outcome`.
    mutating func close(_ outcome: LeaseOutcome, at now: Date) {
        switch outcome {
        case .finished:
            release(to: .finished, at: now)
        case .failed(let error, retryAt: let retryAt?):
            lastError = error
            release(to: .failedTemporary, at: now)
            runAt = retryAt
        case .failed(let error, retryAt: nil):
            lastError = error
            release(to: .failedPermanently, at: now)
        case .ended(let state, let reason):
            end(in: state, reason: reason, at: now)
        case .givenBack:
            release(to: lastError == nil ? .new : .failedTemporary, at: now)
            count = max(0, count - 1)
            runAt = now
        }
    }
}

/// How a worker's lease on a change ends.
public enum LeaseOutcome: Sendable, Equatable {
    /// The step took effect.
    case finished
    /// The attempt failed: retried at `retryAt`, or failed for good when it is nil.
    case failed(String, retryAt: Date?)
    /// Ended for good in a terminal state other than finished (e.g. `CANCELLED`: its subject is gone).
    case ended(PendingChangeState, reason: String)
    /// Given back untried (the engine is stopping): the attempt does not count and the change is
    /// due at once, for any worker.
    case givenBack
}

/// The kind of work a pending change does. An open set: each lifecycle feature adds its kinds.
public struct PendingChangeKind: RawRepresentable, Codable, Sendable, Hashable, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Where a pending change is in its life.
public enum PendingChangeState: String, FallbackDecodable, Sendable, CaseIterable {
    /// Queued, not tried yet.
    case new = "NEW"
    /// Leased by a worker (see `leaseOwner`, `leaseExpiry`).
    case running = "RUNNING"
    /// Failed; will be retried at `runAt`.
    case failedTemporary = "FAILED_TEMPORARY"
    /// Failed for good; stays visible until an operator removes it.
    case failedPermanently = "FAILED_PERMANENTLY"
    /// Took effect.
    case finished = "FINISHED"
    /// Will never run: an operator cancelled it, or its subject is gone (`lastError` says which).
    case cancelled = "CANCELLED"
    public static let fallback = PendingChangeState.failedPermanently

    /// Whether the change will never run again.
    public var isTerminal: Bool { self == .failedPermanently || self == .finished || self == .cancelled }

    /// The states of a change that is still to run or running.
    public static let open: [PendingChangeState] = [.new, .running, .failedTemporary]
}

/// A record of something that happened to the system, for the operator's history.
public struct AuditEvent: Entity {
    public static let collection = EntityCollection.auditEvent

    public var id: String
    public var revision: Int
    public var time: Date
    /// Who acted (a username, or `defpi`).
    public var actor: String
    /// What happened, e.g. `change.queued`, `change.finished`, `node.classified`.
    public var action: String
    /// The id of the entity acted on.
    public var target: String
    /// The pending change involved, if any.
    public var changeId: String?
    public var detail: String

    public init(id: String = ObjectID.generate(), revision: Int = 0, time: Date = Date(), actor: String,
                action: String, target: String, changeId: String? = nil, detail: String = "") {
        self.id = id
        self.revision = revision
        self.time = time
        self.actor = actor
        self.action = action
        self.target = target
        self.changeId = changeId
        self.detail = detail
    }
}
