import Foundation
import Synchronization

/// Slows down password guessing, before any password is checked:
/// - every attempt is counted as a failure when it starts (a success takes it back), so guesses
///   sent in parallel count as much as guesses sent one after another;
/// - after a burst of failures for one username from one source, that pair waits a delay that
///   doubles with every further failure, up to a ceiling; a success clears the pair;
/// - the same per username from every source together, with a larger burst, so guesses spread
///   over many addresses slow down too; that wait holds only sources that failed themselves, so
///   strangers failing on purpose cannot lock the real user out, and it is forgotten after an
///   hour without failures;
/// - sign-ins of usernames that do not exist share one small budget (a token bucket), answered
///   at once with a wait when it is spent, so a flood of strangers cannot keep the CPUs busy
///   with bcrypt while real users sign in.
///
/// Kept in memory, per engine: an attacker spreading guesses over several engines gets the
/// burst once per engine, which the doubling still makes slow.
final class SignInThrottle: Sendable {
    struct Policy: Sendable {
        /// Failures allowed per username and source before the first delay.
        var burst = 5
        /// Failures allowed per username, from all sources, before the first delay.
        var accountBurst = 20
        var firstDelay: Duration = .seconds(1)
        var maximumDelay: Duration = .seconds(15 * 60)
        /// Sign-ins of unknown usernames checked per second, and at most at once.
        var strangersPerSecond = 2.0
        var strangersBurst = 4.0
    }

    /// A counted attempt, given back by `succeeded`.
    struct Attempt: Sendable {
        fileprivate let keys: [String]
    }

    private struct Record {
        var failures = 0
        var lockedUntil = Date.distantPast
        var lastFailure = Date.distantPast
    }

    private struct State {
        var records: [String: Record] = [:]
        var strangerTokens: Double
        var strangersRefilled = Date.distantPast
    }

    private let policy: Policy
    private let clock: @Sendable () -> Date
    private let state: Mutex<State>
    /// Beyond this many records, those not failing for an hour are forgotten.
    private let pruneAbove = 10_000

    init(policy: Policy = Policy(), clock: @escaping @Sendable () -> Date) {
        self.policy = policy
        self.clock = clock
        state = Mutex(State(strangerTokens: policy.strangersBurst))
    }

    /// Throws `SignInError.throttled` while `username` from `source` must wait.
    func check(username: String, source: String) throws {
        let now = clock()
        let keys = Self.keys(username, source)
        try state.withLock { state in try Self.refuse(until: Self.lockedUntil(keys, in: &state, now: now), now: now) }
    }

    /// Until when the pair waits: its own wait, or the username's if the pair failed itself.
    /// A username's record quiet for an hour is forgotten.
    private static func lockedUntil(_ keys: [String], in state: inout State, now: Date) -> Date {
        if let account = state.records[keys[1]], now.timeIntervalSince(account.lastFailure) > 3600, account.lockedUntil <= now {
            state.records.removeValue(forKey: keys[1])
        }
        guard let pair = state.records[keys[0]] else { return .distantPast }
        return max(pair.lockedUntil, pair.failures > 0 ? state.records[keys[1]]?.lockedUntil ?? .distantPast : .distantPast)
    }

    /// Checks, then counts an attempt as failed before its password is checked: the next
    /// attempts wait once the bursts are spent. A success gives it back (`succeeded`).
    func reserve(username: String, source: String) throws -> Attempt {
        let now = clock()
        let keys = Self.keys(username, source)
        try state.withLock { state in
            try Self.refuse(until: Self.lockedUntil(keys, in: &state, now: now), now: now)
            if state.records.count > pruneAbove {
                state.records = state.records.filter { now.timeIntervalSince($0.value.lastFailure) < 3600 || $0.value.lockedUntil > now }
            }
            for (key, burst) in zip(keys, [policy.burst, policy.accountBurst]) {
                var record = state.records[key, default: Record()]
                record.failures += 1
                record.lastFailure = now
                let beyond = record.failures - burst
                if beyond > 0 {
                    let delay = min(policy.firstDelay * (1 << min(beyond - 1, 30)), policy.maximumDelay)
                    record.lockedUntil = now.addingTimeInterval(delay.seconds)
                }
                state.records[key] = record
            }
        }
        return Attempt(keys: keys)
    }

    /// The attempt's password was right: its source's count is cleared, and the username's
    /// count forgets this attempt (not the others: a right password from one place does not
    /// excuse guesses from elsewhere).
    func succeeded(_ attempt: Attempt) {
        state.withLock { state in
            state.records.removeValue(forKey: attempt.keys[0])
            if var account = state.records[attempt.keys[1]] {
                account.failures = max(0, account.failures - 1)
                if account.failures <= policy.accountBurst { account.lockedUntil = .distantPast }
                state.records[attempt.keys[1]] = account
            }
        }
    }

    /// A password known to be right (checked lately) came from `source`: its count is cleared.
    func succeeded(username: String, source: String) {
        _ = state.withLock { $0.records.removeValue(forKey: Self.keys(username, source)[0]) }
    }

    /// Takes one sign-in of an unknown username from the shared budget, or throws
    /// `SignInError.throttled` at once when it is spent.
    func admitStranger() throws {
        let now = clock()
        try state.withLock { state in
            let elapsed = max(0, now.timeIntervalSince(state.strangersRefilled))
            state.strangerTokens = min(policy.strangersBurst, state.strangerTokens + elapsed * policy.strangersPerSecond)
            state.strangersRefilled = now
            guard state.strangerTokens >= 1 else {
                let wait = (1 - state.strangerTokens) / policy.strangersPerSecond
                throw SignInError.throttled(retryAfter: .seconds(max(1, wait.rounded(.up))))
            }
            state.strangerTokens -= 1
        }
    }

    private static func refuse(until lockedUntil: Date, now: Date) throws {
        guard lockedUntil <= now else {
            throw SignInError.throttled(retryAfter: .seconds(lockedUntil.timeIntervalSince(now).rounded(.up)))
        }
    }

    /// The pair's key, then the account's.
    private static func keys(_ username: String, _ source: String) -> [String] {
        ["\(username)\u{0}\(source)", "\(username)\u{0}"]
    }
}
