import Foundation
import Synchronization

/// Slows down password guessing: after a burst of failed sign-ins for one username from one
/// source, that pair is refused without a password check for a delay that doubles with every
/// further failure, up to a ceiling. A successful sign-in clears the pair.
///
/// Kept in memory, per engine: an attacker spreading guesses over several engines gets the
/// burst once per engine, which the doubling still makes slow.
final class SignInThrottle: Sendable {
    struct Policy: Sendable {
        /// Failures allowed before the first delay.
        var burst = 5
        var firstDelay: Duration = .seconds(1)
        var maximumDelay: Duration = .seconds(15 * 60)
    }

    private struct Record {
        var failures = 0
        var lockedUntil = Date.distantPast
        var lastFailure = Date.distantPast
    }

    private let policy: Policy
    private let clock: @Sendable () -> Date
    private let records = Mutex<[String: Record]>([:])
    /// Beyond this many pairs, those not failing for an hour are forgotten.
    private let pruneAbove = 10_000

    init(policy: Policy = Policy(), clock: @escaping @Sendable () -> Date) {
        self.policy = policy
        self.clock = clock
    }

    /// Throws `SignInError.throttled` while `username` from `source` must wait.
    func check(username: String, source: String) throws {
        let now = clock()
        let lockedUntil = records.withLock { $0[Self.key(username, source)]?.lockedUntil } ?? .distantPast
        guard lockedUntil <= now else {
            throw SignInError.throttled(retryAfter: .seconds(lockedUntil.timeIntervalSince(now).rounded(.up)))
        }
    }

    /// Counts a failed sign-in, starting or doubling the delay once past the burst.
    func failed(username: String, source: String) {
        let now = clock()
        records.withLock { records in
            if records.count > pruneAbove {
                records = records.filter { now.timeIntervalSince($0.value.lastFailure) < 3600 || $0.value.lockedUntil > now }
            }
            var record = records[Self.key(username, source), default: Record()]
            record.failures += 1
            record.lastFailure = now
            let beyond = record.failures - policy.burst
            if beyond > 0 {
                let delay = min(policy.firstDelay * (1 << min(beyond - 1, 30)), policy.maximumDelay)
                record.lockedUntil = now.addingTimeInterval(delay.seconds)
            }
            records[Self.key(username, source)] = record
        }
    }

    /// Clears the pair after a successful sign-in.
    func succeeded(username: String, source: String) {
        _ = records.withLock { $0.removeValue(forKey: Self.key(username, source)) }
    }

    private static func key(_ username: String, _ source: String) -> String { "\(username)\u{0}\(source)" }
}
