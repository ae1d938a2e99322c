import Foundation
import Logging
import Synchronization

/// The persistent queue of pending changes. Managers register a `ChangeStep` per kind and
/// enqueue changes together with the desired state they carry out; this engine's workers lease
/// due changes of the kinds it knows, run each step under its lease (cancelled when the lease is
/// lost), and retry failures with capped, jittered exponential back-off up to the kind's attempt
/// limit. Several engines may work on one store at once.
public final class PendingChangeManager: Sendable {
    let store: any Store
    /// This engine's lease owner name, unique per engine.
    public let owner: String
    public let settings: QueueSettings
    private let steps = Mutex<[PendingChangeKind: RegisteredStep]>([:])
    let doorbell = Doorbell()
    private let leasing = Mutex(true)
    let notifications: EngineNotifications
    private let keeper: LeaseKeeper
    let logger = Logger(label: "defpi.queue")

    public init(store: any Store, notifications: EngineNotifications, owner: String = PendingChangeManager.defaultOwner(),
                settings: QueueSettings = QueueSettings()) {
        self.store = store
        self.notifications = notifications
        self.owner = owner
        self.settings = settings
        keeper = LeaseKeeper(store: store, settings: settings, logger: logger)
    }

    /// `host:pid:random`: tells operators which engine holds a lease.
    public static func defaultOwner() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))"
    }

    /// Makes this engine run changes of `Step.kind`; each manager registers its own steps.
    public func register<Step: ChangeStep>(_ step: Step) {
        steps.withLock { $0[Step.kind] = RegisteredStep(step) }
    }

    /// The kinds this engine leases.
    public var kinds: Set<PendingChangeKind> { steps.withLock { Set($0.keys) } }

    // MARK: Queueing

    /// Queues `change` together with `intent`, the desired state it carries out: in one
    /// transaction where the store has them. Elsewhere the change is written first, so a crash in
    /// between leaves a change that re-reads an unchanged state (harmless), never a state without
    /// its change. The audit record follows; failing to write it is logged, not reported.
    @discardableResult
    public func enqueue(_ change: PendingChange, with intent: StoreBatch = StoreBatch()) async throws -> PendingChange {
        try await enqueue([change], with: intent)[0]
    }

    /// Queues several changes together with `intent`, as `enqueue(_:with:)` queues one.
    @discardableResult
    public func enqueue(_ changes: [PendingChange], with intent: StoreBatch) async throws -> [PendingChange] {
        let queued = changes.map(\.queued)
        var batch = StoreBatch()
        for change in queued { batch.insert(change) }
        batch.append(intent)
        try await store.write(batch)
        for change in queued {
            await audit(change, action: "change.queued", detail: change.description)
            notifications.publish(.entity(.pendingChange, id: change.id, change: .added))
        }
        doorbell.ring()
        return queued.map { $0.atRevision(1) }
    }

    /// A change of `kind` on `resource` in one of `states` (by default: waiting to run), if any:
    /// lets a manager skip queueing the same work twice.
    public func openChange(of kind: PendingChangeKind, on resource: String,
                           states: [PendingChangeState] = [.new, .failedTemporary]) async throws -> PendingChange? {
        try await store.first(PendingChange.self, .and([
            .where("type", is: kind.rawValue), .contains("resources", .string(resource)),
            .isIn("state", states.map { .string($0.rawValue) }),
        ]))
    }

    // MARK: Working

    /// Works the queue until the task is cancelled or `stopLeasing()` is called: leases due
    /// changes while fewer than `settings.workers` run, each on a worker task that, as it records
    /// one change's outcome, leases the next (one store transaction per change); a worker with
    /// nothing more to do frees its slot at once. With nothing due the loop looks again after
    /// `idlePoll`, or as soon as this engine queues a change or ends one. Returns once the
    /// running changes have ended.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            var slotsTaken = 0  // Running workers, and ended ones not yet collected.
            while !Task.isCancelled && leasing.withLock({ $0 }) {
                if slotsTaken == settings.workers {
                    await group.next()
                    slotsTaken -= 1
                    continue
                }
                do {
                    if let change = try await lease() {
                        slotsTaken += 1
                        group.addTask {
                            var next: PendingChange? = change
                            while let current = next { next = await self.carryOut(current, thenLease: true) }
                            self.doorbell.ring()
                        }
                        continue
                    }
                } catch {
                    logger.error("the queue cannot reach the store: \(error)")
                }
                await doorbell.wait(atMost: settings.idlePoll)
            }
        }
    }

    /// Makes `run()` lease nothing more and return once the changes it runs have ended (a
    /// graceful stop).
    public func stopLeasing() {
        leasing.withLock { $0 = false }
        doorbell.ring()
    }

    /// Leases and runs the next due change (or, with `changeId`, that change only when it is
    /// due and free); returns whether one ran.
    @discardableResult
    public func runNext(only changeId: String? = nil) async throws -> Bool {
        guard let change = try await lease(only: changeId) else { return false }
        _ = await carryOut(change, thenLease: false)
        return true
    }

    /// Runs the queue for one change until it is finished or failed for good, or `timeout`
    /// passes; returns the change as it stands then. Never runs another change: verbs that wait
    /// for their effect use it, whether or not an engine is working the queue meanwhile.
    public func settle(_ changeId: String, timeout: Duration, poll: Duration = .milliseconds(100)) async throws
        -> PendingChange
    {
        let deadline = settings.clock().addingTimeInterval(timeout.seconds)
        while true {
            guard let change = try await store.fetch(PendingChange.self, id: changeId) else {
                throw QueueError.notFound(changeId)
            }
            let now = settings.clock()
            if change.state.isTerminal || now >= deadline { return change }
            let due = change.isWaiting ? change.runAt <= now : !change.isLeased(at: now)
            if due, try await runNext(only: changeId) { continue }
            try await Task.sleep(for: poll)
        }
    }

    private func lease(only changeId: String? = nil) async throws -> PendingChange? {
        let now = settings.clock()
        let change = try await store.leaseNextChange(owner: owner, kinds: kinds, changeId: changeId,
                                                     leaseUntil: now + settings.leaseDuration.seconds, now: now)
        if let change { notifications.publish(.entity(.pendingChange, id: change.id, change: .modified)) }
        return change
    }

    /// How one attempt ended.
    private enum Attempt {
        case done
        case failed(any Error)
        /// The lease was lost: another engine owns the change now.
        case leaseLost
        /// The engine is stopping: the change goes back to the queue untried.
        case stopped
    }

    /// Runs a leased change's step under its lease and records how it ended; with `thenLease`
    /// (unless the engine is stopping), leases the next due change in the same store call and
    /// returns it.
    private func carryOut(_ change: PendingChange, thenLease: Bool) async -> PendingChange? {
        let lease = ChangeLease(change, owner: owner, settings: settings)
        let attempt: Attempt
        if let step = steps.withLock({ $0[change.type] }) {
            attempt = await run(step, change, under: lease)
        } else {
            attempt = .stopped  // Unregistered meanwhile: leave it to an engine that knows it.
        }
        let maximumAttempts = steps.withLock { $0[change.type] }?.maximumAttempts
        let kinds = thenLease && leasing.withLock({ $0 }) ? kinds : []
        // Recorded even when the engine is stopping, so the change is not left leased.
        let held = lease.change
        let next = await Task { await self.record(attempt, of: held, maximumAttempts: maximumAttempts, thenLease: kinds) }
            .value
        notifications.publish(.entity(.pendingChange, id: change.id, change: .modified))
        if let next { notifications.publish(.entity(.pendingChange, id: next.id, change: .modified)) }
        return next
    }

    /// Runs the step beside the lease keeper: whichever ends first ends the other.
    private func run(_ step: RegisteredStep, _ change: PendingChange, under lease: ChangeLease) async -> Attempt {
        await withTaskGroup(of: Attempt?.self) { group in
            group.addTask {
                do {
                    try lease.check()
                    try await step.run(change, lease)
                    return .done
                } catch {
                    // Whether the step was stopped is told by its task, not by the error's type:
                    // a cancelled Docker call may surface as a transport error, and a step's own
                    // timeout as a CancellationError.
                    if !lease.isHeld { return .leaseLost }
                    return Task.isCancelled ? .stopped : .failed(error)
                }
            }
            group.addTask {
                await self.keeper.keep(lease)
                return nil
            }
            var attempt: Attempt?
            while let next = await group.next() {
                if attempt == nil { attempt = next }
                group.cancelAll()
            }
            return attempt ?? .leaseLost
        }
    }

    /// How long a change whose subject is missing waits for it before it ends: the writes queued
    /// with a change reach a store without transactions one by one, and the change (written
    /// first) may be leased before its subject is visible; also a clock skew either way.
    var subjectGrace: TimeInterval { 10 + 2 * settings.maximumClockSkew.seconds }

    /// Records how an attempt ended over `change` as its lease last wrote it; with `kinds`, leases
    /// the next change of them and returns it.
    private func record(_ attempt: Attempt, of change: PendingChange, maximumAttempts: Int?,
                        thenLease kinds: Set<PendingChangeKind>) async -> PendingChange? {
        let now = settings.clock()
        let outcome: LeaseOutcome
        let audit: (action: String, detail: String)
        switch attempt {
        case .done:
            (outcome, audit) = (.finished, ("change.finished", change.description))
        case .failed(let error as ChangeObsolete) where error.subjectMissing && now.timeIntervalSince(change.created) < subjectGrace:
            let message = "waiting for its subject to be stored: \(error.userMessage)"
            (outcome, audit) = (.failed(message, retryAt: now.addingTimeInterval(1)), ("change.retrying", message))
        case .failed(let error as ChangeObsolete):
            (outcome, audit) = (.ended(.cancelled, reason: error.userMessage), ("change.obsolete", error.userMessage))
        case .failed(let error):
            var message = (error as? UserFacingError)?.userMessage ?? "\(error)"
            var retryAt: Date? = now.addingTimeInterval(backoff(after: change.count))
            if error is PermanentChangeFailure {
                retryAt = nil
            } else if let maximumAttempts, change.count >= maximumAttempts {
                retryAt = nil
                message = "gave up after \(change.count) attempts: \(message)"
            }
            (outcome, audit) = (.failed(message, retryAt: retryAt), (retryAt == nil ? "change.failed" : "change.retrying", message))
            logger.info("change \(change.id) (\(change.type.rawValue)) failed: \(message)")
        case .leaseLost:
            logger.warning("change \(change.id) (\(change.type.rawValue)) lost its lease while running; another worker takes it over")
            return nil
        case .stopped:
            return await giveBack(change, at: now)
        }
        do {
            let next = try await store.closeLease(
                change, owner: owner, outcome: outcome,
                audit: auditEvent(change, action: audit.action, detail: audit.detail), now: now,
                thenLease: kinds, leaseUntil: now + settings.leaseDuration.seconds)
            if case .failed(_, retryAt: nil) = outcome { await abandoned(change) }
            return next
        } catch StoreError.leaseLost {
            logger.warning("change \(change.id) lost its lease before its outcome was recorded; another worker runs it again")
        } catch {
            logger.error("cannot record the outcome of change \(change.id): \(error); its lease runs out and it is retried")
        }
        return nil
    }

    /// Lets the change's step undo what the ended change left half done (`ChangeStep.abandoned`).
    func abandoned(_ change: PendingChange) async {
        CrashPoint.changeAbandoned.reached()
        guard let step = steps.withLock({ $0[change.type] }) else { return }
        do {
            try await step.abandoned(change)
        } catch {
            logger.warning("undoing what change \(change.id) left half done failed: \(error); the periodic repair tries again")
        }
    }

    /// Gives a change back untried: the engine is stopping, so nothing more is leased.
    private func giveBack(_ change: PendingChange, at now: Date) async -> PendingChange? {
        do {
            _ = try await store.closeLease(change, owner: owner, outcome: .givenBack, audit: nil, now: now)
        } catch {
            logger.warning("cannot give change \(change.id) back: \(error); its lease runs out and it is retried")
        }
        return nil
    }

    /// Seconds to wait before attempt `attempts + 1`: 1, 2, 4 ... capped, with ±20 % jitter.
    func backoff(after attempts: Int) -> TimeInterval {
        let exponential = pow(2, Double(max(0, attempts - 1)))
        return Duration.seconds(min(exponential, settings.maximumBackoff.seconds)).jittered().seconds
    }

    /// Records an audit event; history is not state, so a failure is logged and the caller goes on.
    func audit(_ change: PendingChange, action: String, detail: String, actor: String? = nil) async {
        await store.audit(auditEvent(change, action: action, detail: detail, actor: actor), logger: logger)
    }

    /// The audit event of `action` on `change`, by `actor` (by default whoever queued it).
    private func auditEvent(_ change: PendingChange, action: String, detail: String, actor: String? = nil) -> AuditEvent {
        AuditEvent(time: settings.clock(), actor: actor ?? change.createdBy, action: action,
                   target: change.resources.first ?? change.id, changeId: change.id, detail: detail)
    }
}
