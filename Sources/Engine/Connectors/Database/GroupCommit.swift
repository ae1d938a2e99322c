import Dispatch
import GRDB
import Synchronization

/// Group commit: writes that arrive while the writer is busy wait, then run together in one
/// transaction, each inside a savepoint of its own. One commit then writes each touched page
/// once for all of them (a queue worker's outcome, the next worker's lease, their audit records),
/// and the writer is handed over once instead of once per write. Each caller still gets its own
/// result or error: a write that throws rolls back its savepoint only. Results are delivered
/// after the commit, so no caller sees a success that is not durable.
///
/// Hand-written: GRDB serializes writes but commits each one on its own.
final class GroupCommit: Sendable {
    /// One waiting write: runs its body in the shared transaction, and is told the outcome.
    private struct Job: Sendable {
        /// Runs the body, inside a savepoint when it shares the transaction; keeps the result
        /// until the commit. Alone, its error is thrown, which rolls the transaction back.
        let run: @Sendable (Database, _ shared: Bool) throws -> Void
        /// Delivers the kept result, or `error` when the transaction did not commit.
        let finish: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var waiting: [Job] = []
        var draining = false
    }

    private let pool: DatabasePool
    /// Where waiting writes are committed, synchronously: GRDB then runs them on this thread
    /// instead of hopping to its writer queue and back.
    private let drainQueue = DispatchQueue(label: "defpi.store.group-commit")
    private let state = Mutex(State())
    /// The most writes one transaction takes, so one commit never grows without bound.
    private static let maximumBatch = 64

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Runs `body` in a write transaction, possibly shared with other writes; returns once that
    /// transaction is committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = Mutex<Result<T, any Error>?>(nil)
            let job = Job(
                run: { db, shared in
                    guard shared else {
                        let value = try body(db)
                        outcome.withLock { $0 = .success(value) }
                        return
                    }
                    let result = Result<T, any Error> {
                        var value: T?
                        try db.inSavepoint {
                            value = try body(db)
                            return .commit
                        }
                        return value!
                    }
                    outcome.withLock { $0 = result }
                },
                finish: { commitError in
                    if let commitError {
                        continuation.resume(throwing: commitError)
                    } else {
                        continuation.resume(with: outcome.withLock { $0 }!)
                    }
                })
            let startDraining = state.withLock { state -> Bool in
                state.waiting.append(job)
                defer { state.draining = true }
                return !state.draining
            }
            if startDraining { drainQueue.async { self.drain() } }
        }
    }

    /// Commits the waiting writes, a batch per transaction, until none waits.
    private func drain() {
        while true {
            let batch = state.withLock { state -> [Job] in
                let taken = Array(state.waiting.prefix(Self.maximumBatch))
                state.waiting.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            do {
                try pool.write { db in
                    for job in batch { try job.run(db, batch.count > 1) }
                }
                for job in batch { job.finish(nil) }
            } catch {
                for job in batch { job.finish(error) }
            }
        }
    }
}
