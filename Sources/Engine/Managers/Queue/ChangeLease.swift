import Foundation
import Logging
import Synchronization

/// How an engine works the queue.
///
/// **Clocks.** A lease's expiry is a wall-clock time written by its holder and compared by other
/// engines with their own wall clock. Engines on one store must therefore agree on the time within
/// `maximumClockSkew`: the holder stops trusting its lease that long before the expiry (so no side
/// effect starts after another engine may have taken the change over), and renews it every third
/// of `leaseDuration`, which must exceed twice the skew. Keep the hosts on NTP.
public struct QueueSettings: Sendable {
    /// Changes this engine runs at once (each on its own resources).
    public var workers: Int
    public var leaseDuration: Duration
    public var maximumClockSkew: Duration
    /// The cap of the exponential back-off between attempts.
    public var maximumBackoff: Duration
    /// How long a worker with nothing to do waits before it looks again.
    public var idlePoll: Duration
    /// Finished and cancelled changes older than this are pruned.
    public var keepFinished: Duration
    /// Changes failed for good older than this are pruned (kept longer: an operator may still
    /// want to read why).
    public var keepFailed: Duration
    /// Audit events older than this are pruned.
    public var keepAudit: Duration
    /// This engine's wall clock (tests skew it).
    public var clock: @Sendable () -> Date

    public init(workers: Int = 4, leaseDuration: Duration = .seconds(60), maximumClockSkew: Duration = .seconds(5),
                maximumBackoff: Duration = .seconds(300), idlePoll: Duration = .milliseconds(250),
                keepFinished: Duration = .seconds(7 * 86_400), keepFailed: Duration = .seconds(30 * 86_400),
                keepAudit: Duration = .seconds(90 * 86_400),
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.workers = max(1, workers)
        self.leaseDuration = leaseDuration
        self.maximumClockSkew = min(maximumClockSkew, leaseDuration / 3)
        self.maximumBackoff = maximumBackoff
        self.idlePoll = idlePoll
        self.keepFinished = keepFinished
        self.keepFailed = keepFailed
        self.keepAudit = keepAudit
        self.clock = clock
    }
}

/// A worker's hold on one change while its step runs: the fencing token steps check before
/// every side effect. It is lost when the store refuses a renewal (another engine took the change
/// over, or an operator removed it) or when no renewal succeeded before the expiry; the queue then
/// cancels the step.
public final class ChangeLease: Sendable {
    public let changeId: String
    public let owner: String
    /// The change as this lease last wrote it (leased, then renewed), and whether it was lost.
    private let held: Mutex<(change: PendingChange, lost: Bool)>
    private let margin: TimeInterval
    private let clock: @Sendable () -> Date

    init(_ change: PendingChange, owner: String, settings: QueueSettings) {
        changeId = change.id
        self.owner = owner
        held = Mutex((change, false))
        margin = settings.maximumClockSkew.seconds
        clock = settings.clock
    }

    /// Whether this worker still holds the change, with the clock-skew margin to spare.
    public var isHeld: Bool {
        let (expiry, lost) = held.withLock { ($0.change.leaseExpiry ?? .distantPast, $0.lost) }
        return !lost && clock() < expiry.addingTimeInterval(-margin)
    }

    /// Throws `StoreError.leaseLost` unless the lease is still held: call it before a side effect.
    public func check() throws {
        guard isHeld else { throw StoreError.leaseLost(changeId: changeId, owner: owner) }
    }

    /// The change as this lease last wrote it: what its outcome is written over.
    var change: PendingChange { held.withLock { $0.change } }

    func renewed(_ change: PendingChange) {
        held.withLock { $0.change = change }
    }

    func markLost() {
        held.withLock { $0.lost = true }
    }
}

/// Keeps a lease renewed while its step runs; returns only when the lease is lost (or the task is
/// cancelled because the step ended). A failed renewal is retried until the lease would run out:
/// one store hiccup does not lose a change that is half done.
struct LeaseKeeper: Sendable {
    let store: any Store
    let settings: QueueSettings
    let logger: Logger

    func keep(_ lease: ChangeLease) async {
        var wait = settings.leaseDuration / 3
        while !Task.isCancelled {
            do { try await Task.sleep(for: wait) } catch { return }
            let now = settings.clock()
            do {
                lease.renewed(try await store.renewLease(
                    changeId: lease.changeId, owner: lease.owner, leaseUntil: now + settings.leaseDuration.seconds, now: now))
                wait = settings.leaseDuration / 3
            } catch StoreError.leaseLost {
                logger.warning("lost the lease of change \(lease.changeId): another engine holds it, or it was removed")
                lease.markLost()
                return
            } catch is CancellationError {
                return
            } catch {
                guard lease.isHeld else {
                    logger.warning("could not renew the lease of change \(lease.changeId) before it ran out: \(error)")
                    lease.markLost()
                    return
                }
                logger.info("renewing the lease of change \(lease.changeId) failed, trying again: \(error)")
                wait = min(settings.leaseDuration / 12, .seconds(2))
            }
        }
    }
}
