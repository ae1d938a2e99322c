import Foundation
import Logging
import Synchronization

/// Runs one kind of pending change. It re-reads what it needs from the store (the change holds
/// ids only), must be idempotent, and throws to have the change retried.
public typealias PendingChangeHandler = @Sendable (PendingChange) async throws -> Void

/// A failure that retrying cannot fix: the change fails for good with this message.
public struct PermanentChangeFailure: UserFacingError {
    public var userMessage: String
    public init(_ message: String) { userMessage = message }
}

/// The persistent queue of pending changes: enqueues them with an audit record and runs them
/// through the store's leases, retrying failures with capped exponential back-off and jitter.
/// Several managers (in several engines) may work on one store at once.
public final class PendingChangeManager: Sendable {
    public let store: any Store
    /// This worker's lease owner name, unique per engine.
    public let owner: String
    public let leaseDuration: Duration
    public let maximumBackoff: Duration
    private let handlers = Mutex<[PendingChangeKind: PendingChangeHandler]>([:])
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.queue")

    public init(store: any Store, notifications: EngineNotifications, owner: String = PendingChangeManager.defaultOwner(),
                leaseDuration: Duration = .seconds(60), maximumBackoff: Duration = .seconds(300)) {
        self.store = store
        self.notifications = notifications
        self.owner = owner
        self.leaseDuration = leaseDuration
        self.maximumBackoff = maximumBackoff
    }

    /// Sets the handler of one kind of change; each manager registers its kinds at wiring time.
    public func register(_ kind: PendingChangeKind, handler: @escaping PendingChangeHandler) {
        handlers.withLock { $0[kind] = handler }
    }

    /// `host:pid:random`: tells operators which engine holds a lease.
    public static func defaultOwner() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))"
    }

    /// Queues a change and records who asked.
    @discardableResult
    public func enqueue(_ change: PendingChange) async throws -> PendingChange {
        let queued = try await store.enqueue(change)
        try await audit(queued, action: "change.queued", detail: change.description)
        notifications.publish(.entity(.pendingChange, id: queued.id, change: .added))
        return queued
    }

    /// Leases and runs the next due change, if any; returns whether one ran.
    @discardableResult
    public func runNext(now: Date = Date()) async throws -> Bool {
        guard let change = try await store.leaseNextChange(
            owner: owner, leaseUntil: now.addingTimeInterval(leaseDuration.seconds), now: now)
        else { return false }
        notifications.publish(.entity(.pendingChange, id: change.id, change: .modified))
        // Keep the lease while the handler works, however long its Docker calls take.
        let renewal = Task { [store, owner, leaseDuration] in
            while !Task.isCancelled {
                try await Task.sleep(for: leaseDuration / 3)
                _ = try await store.renewLease(changeId: change.id, owner: owner,
                                               leaseUntil: Date().addingTimeInterval(leaseDuration.seconds))
            }
        }
        defer { renewal.cancel() }
        do {
            guard let handler = handlers.withLock({ $0[change.type] }) else {
                throw PermanentChangeFailure("this engine does not know changes of kind \(change.type.rawValue)")
            }
            try await handler(change)
            _ = try await store.finishChange(changeId: change.id, owner: owner, now: Date())
            try await audit(change, action: "change.finished", detail: change.description)
        } catch StoreError.leaseLost(let changeId, _) where changeId == change.id {
            logger.warning("lost the lease of \(change.id) while running it; another engine took it over")
        } catch is CancellationError {
            // The engine is stopping: the lease runs out and another worker takes the change over.
            throw CancellationError()
        } catch {
            let message = (error as? UserFacingError)?.userMessage ?? "\(error)"
            let retryAt = error is PermanentChangeFailure ? nil : Date().addingTimeInterval(backoff(after: change.count))
            _ = try await store.failChange(changeId: change.id, owner: owner, error: message, retryAt: retryAt, now: Date())
            try await audit(change, action: retryAt == nil ? "change.failed" : "change.retrying", detail: message)
            logger.info("change \(change.id) (\(change.type.rawValue)) failed: \(message)")
        }
        notifications.publish(.entity(.pendingChange, id: change.id, change: .modified))
        return true
    }

    /// Works the queue until the task is cancelled, polling every `idlePoll` when nothing is due.
    public func run(idlePoll: Duration = .milliseconds(500)) async {
        while !Task.isCancelled {
            do {
                if try await runNext() { continue }
            } catch {
                logger.error("the queue cannot reach the store: \(error)")
            }
            try? await Task.sleep(for: idlePoll)
        }
    }

    /// Works the queue until the change is finished or failed for good, or `timeout` passes;
    /// returns the change as it stands then. Used by command-line verbs that wait for their effect.
    public func settle(_ changeId: String, timeout: Duration, poll: Duration = .milliseconds(100)) async throws
        -> PendingChange
    {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        while true {
            guard let change = try await store.fetch(PendingChange.self, id: changeId) else {
                throw StoreError.notFound(.pendingChange, id: changeId)
            }
            if change.state.isTerminal || Date() >= deadline { return change }
            if try await !runNext() { try await Task.sleep(for: poll) }
        }
    }

    /// Seconds to wait before attempt `attempts + 1`: 1, 2, 4 ... capped, with ±20 % jitter.
    func backoff(after attempts: Int) -> TimeInterval {
        let exponential = pow(2, Double(max(0, attempts - 1)))
        return Duration.seconds(min(exponential, maximumBackoff.seconds)).jittered().seconds
    }

    private func audit(_ change: PendingChange, action: String, detail: String) async throws {
        try await store.record(AuditEvent(actor: change.createdBy, action: action,
                                          target: change.resources.first ?? change.id, changeId: change.id,
                                          detail: detail))
    }
}
