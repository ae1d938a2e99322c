import DefpiTesting
import Foundation
import Synchronization
import Testing

@testable import Engine

/// Signing in: tokens that live on the store (hashed, expiring, revoked with the password),
/// failed attempts throttled per username and source, and a Basic password checked by bcrypt
/// once while its hash stays the same.
@Suite("Sign-in", .timeLimit(.minutes(3)))
struct SignInTests {
    let admin = Caller.localOperator(name: "root")

    /// A clock the test moves by hand.
    final class TestClock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
        var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
    }

    func makeSignIn(clock: TestClock, lifetime: Duration = .seconds(3600), backend: StoreBackend = .sqlite) async throws
        -> (UserManager, SignInManager, any Store)
    {
        let store = try await backend.makeStore()
        let users = UserManager(store: store, notifications: EngineNotifications())
        try await users.create(username: "alice", password: "a-long-password", by: admin)
        return (users, SignInManager(store: store, users: users, settings: SignInSettings(tokenLifetime: lifetime, clock: clock.read)), store)
    }

    @Test("a token signs in until it expires; the store keeps only its SHA-256", arguments: StoreBackend.available)
    func tokenLifetime(backend: StoreBackend) async throws {
        let clock = TestClock()
        let (_, signIn, store) = try await makeSignIn(clock: clock, backend: backend)
        let issued = try await signIn.signIn(username: "alice", password: "a-long-password", source: "10.0.0.1")
        #expect(issued.token.hasPrefix("defpi_") && issued.token.count > 40)
        #expect(issued.user.passwordHash == nil)
        let stored = try #require(try await store.all(AccessToken.self).first)
        #expect(stored.tokenHash == SignInManager.digest(issued.token) && stored.tokenHash != issued.token)
        #expect(try await signIn.caller(bearer: issued.token).name == "alice")
        clock.advance(3601)
        await #expect(throws: SignInError.tokenRefused) { try await signIn.caller(bearer: issued.token) }
        #expect(try await signIn.prune() == 1)
        await #expect(throws: SignInError.tokenRefused) { try await signIn.caller(bearer: "defpi_made-up") }
    }

    @Test("signing out, a new password and the user's removal revoke tokens; a role change counts at once",
          arguments: StoreBackend.available)
    func revocation(backend: StoreBackend) async throws {
        let (users, signIn, _) = try await makeSignIn(clock: TestClock(), backend: backend)
        let first = try await signIn.signIn(username: "alice", password: "a-long-password", source: "a")
        let second = try await signIn.signIn(username: "alice", password: "a-long-password", source: "b")
        try await signIn.signOut(bearer: first.token)
        await #expect(throws: SignInError.tokenRefused) { try await signIn.caller(bearer: first.token) }
        #expect(try await signIn.caller(bearer: second.token).isAdmin == false)
        try await users.update("alice", admin: true, by: admin)
        #expect(try await signIn.caller(bearer: second.token).isAdmin)
        try await users.update("alice", password: "another-password", by: admin)
        await #expect(throws: SignInError.tokenRefused) { try await signIn.caller(bearer: second.token) }
        let third = try await signIn.signIn(username: "alice", password: "another-password", source: "a")
        try await users.create(username: "root2", password: "a-long-password", admin: true, by: admin)
        try await users.delete("alice", by: admin)
        await #expect(throws: SignInError.tokenRefused) { try await signIn.caller(bearer: third.token) }
    }

    @Test("a token counts only with the password it was made with: the one write of a new password ends it, records or not",
          arguments: StoreBackend.available)
    func passwordStamp(backend: StoreBackend) async throws {
        let clock = TestClock()
        let (_, signIn, store) = try await makeSignIn(clock: clock, backend: backend)
        let issued = try await signIn.signIn(username: "alice", password: "a-long-password", source: "a")
        // The password written as a crash would leave it: the token's record is still there.
        var alice = try #require(try await store.first(User.self, .where("username", is: "alice")))
        alice.passwordHash = try await PasswordHashing.hash("another-password")
        _ = try await store.update(alice)
        #expect(try await store.count(AccessToken.self, .all) == 1)
        await #expect(throws: SignInError.tokenRefused) { try await signIn.caller(bearer: issued.token) }

        // A hash in the original's format is upgraded as the user signs in; the token made then counts.
        _ = try await store.insert(User(username: "bob", passwordHash: PasswordHashing.originalHash("legacy-2", username: "bob")))
        let bobs = try await signIn.signIn(username: "bob", password: "legacy-2", source: "a")
        #expect(try await store.first(User.self, .where("username", is: "bob"))?.passwordHash?.hasPrefix("$2") == true)
        #expect(try await signIn.caller(bearer: bobs.token).name == "bob")
        // Two at once: one upgrade is stored, the other's token carries the stored hash too.
        _ = try await store.insert(User(username: "carol", passwordHash: PasswordHashing.originalHash("legacy-3", username: "carol")))
        async let first = signIn.signIn(username: "carol", password: "legacy-3", source: "a")
        async let second = signIn.signIn(username: "carol", password: "legacy-3", source: "b")
        for token in try await [first, second] { #expect(try await signIn.caller(bearer: token.token).name == "carol") }

        // A token record without a stamp (written by hand, or by an older defpi) counts for nothing.
        let unstamped = SignInManager.newToken()
        _ = try await store.insert(AccessToken(userId: alice.id, tokenHash: SignInManager.digest(unstamped), created: clock.read(),
                                               expires: clock.read().addingTimeInterval(3600)))
        await #expect(throws: SignInError.tokenRefused) { try await signIn.caller(bearer: unstamped) }
    }

    @Test("after a burst of failures a username and source wait, longer each time, even with the right password; others do not")
    func throttle() async throws {
        let clock = TestClock()
        let (_, signIn, _) = try await makeSignIn(clock: clock)
        for _ in 0..<5 {
            await #expect(throws: UserError.signInRefused) { try await signIn.caller(username: "alice", password: "wrong", source: "x") }
        }
        // The sixth failure starts the wait: 1 s, then 2 s.
        await #expect(throws: UserError.signInRefused) { try await signIn.caller(username: "alice", password: "wrong", source: "x") }
        await #expect(throws: SignInError.throttled(retryAfter: .seconds(1))) {
            try await signIn.caller(username: "alice", password: "a-long-password", source: "x")
        }
        #expect(try await signIn.caller(username: "alice", password: "a-long-password", source: "y").name == "alice")
        clock.advance(1)
        await #expect(throws: UserError.signInRefused) { try await signIn.caller(username: "alice", password: "wrong", source: "x") }
        await #expect(throws: SignInError.throttled(retryAfter: .seconds(2))) {
            try await signIn.signIn(username: "alice", password: "a-long-password", source: "x")
        }
        #expect(SignInError.throttled(retryAfter: .seconds(2)).failureKind == .throttled(retryAfter: .seconds(2)))
        clock.advance(2)
        #expect(try await signIn.caller(username: "alice", password: "a-long-password", source: "x").name == "alice")
        // A success clears the count: five more failures before the next wait.
        for _ in 0..<5 {
            await #expect(throws: UserError.signInRefused) { try await signIn.caller(username: "alice", password: "wrong", source: "x") }
        }
        #expect(try await signIn.caller(username: "alice", password: "a-long-password", source: "x").name == "alice")
    }

    /// How many of `attempts` were refused for the password (bcrypt ran) and how many throttled.
    static func outcomes(_ attempts: [@Sendable () async throws -> Caller]) async -> (refused: Int, throttled: Int, other: Int) {
        await withTaskGroup(of: Int.self) { group in
            for attempt in attempts {
                group.addTask {
                    do { _ = try await attempt(); return 2 } catch UserError.signInRefused { return 0 } catch is SignInError { return 1 } catch { return 2 }
                }
            }
            var counts = [0, 0, 0]
            for await outcome in group { counts[outcome] += 1 }
            return (counts[0], counts[1], counts[2])
        }
    }

    @Test("guesses sent in parallel count before their passwords are checked: the burst, then waits")
    func parallelGuesses() async throws {
        let (_, signIn, _) = try await makeSignIn(clock: TestClock())
        let result = await Self.outcomes((0..<20).map { _ in { try await signIn.caller(username: "alice", password: "wrong", source: "x") } })
        // Five free failures and the one that starts the wait: six bcrypt checks of twenty.
        #expect(result.refused == 6 && result.throttled == 14 && result.other == 0, "\(result)")
    }

    @Test("guesses spread over many sources slow the account down for those sources, not for the real user elsewhere")
    func accountBackoff() async throws {
        let clock = TestClock()
        let (_, signIn, _) = try await makeSignIn(clock: clock)
        for source in 0..<21 {
            await #expect(throws: UserError.signInRefused) {
                try await signIn.caller(username: "alice", password: "wrong", source: "10.0.0.\(source)")
            }
        }
        // A source that failed waits for the username's back-off, even with its own burst left ...
        await #expect(throws: SignInError.throttled(retryAfter: .seconds(1))) {
            try await signIn.caller(username: "alice", password: "wrong", source: "10.0.0.3")
        }
        // ... a source that never failed (the real user) does not: strangers cannot lock the account.
        #expect(try await signIn.caller(username: "alice", password: "a-long-password", source: "10.9.9.9").name == "alice")
        // An hour without failures and the username's record is forgotten.
        clock.advance(3601)
        await #expect(throws: UserError.signInRefused) {
            try await signIn.caller(username: "alice", password: "wrong", source: "10.0.0.3")
        }
    }

    @Test("a flood of unknown usernames is answered at once from a small budget of bcrypt checks; a real user still signs in")
    func strangers() async throws {
        let (users, signIn, _) = try await makeSignIn(clock: TestClock())
        try await users.create(username: "carol", password: "a-long-password", by: admin)
        async let flood = Self.outcomes((0..<200).map { index in
            { try await signIn.caller(username: "stranger-\(index)", password: "guess-\(index)", source: "10.1.\(index % 250).1") }
        })
        try await Task.sleep(for: .milliseconds(20))
        #expect(try await signIn.caller(username: "carol", password: "a-long-password", source: "10.2.0.2").name == "carol")
        let result = await flood
        // The budget's burst: four bcrypt checks of two hundred (the test clock does not refill it),
        // so the flood costs the pool a second of CPU in all and a real sign-in waits at most for
        // those. (Timed here it would measure the other tests' bcrypt more than the flood's.)
        #expect(result.refused == 4 && result.throttled == 196 && result.other == 0, "\(result)")
    }

    @Test("a repeated Basic password is checked by bcrypt once, and no longer matches once the password changed")
    func basicCache() async throws {
        let (users, signIn, _) = try await makeSignIn(clock: TestClock())
        let clock = ContinuousClock()
        let cold = try await clock.measure { _ = try await signIn.caller(username: "alice", password: "a-long-password", source: "x") }
        let warm = try await clock.measure { _ = try await signIn.caller(username: "alice", password: "a-long-password", source: "x") }
        #expect(warm * 10 < cold, "cold \(cold), warm \(warm)")
        try await users.update("alice", password: "another-password", by: admin)
        await #expect(throws: UserError.signInRefused) {
            try await signIn.caller(username: "alice", password: "a-long-password", source: "x")
        }
    }

    @Test("an admin views defpi as a user with that user's rights, never more")
    func viewAs() async throws {
        let (users, _, _) = try await makeSignIn(clock: TestClock())
        let viewing = try await users.viewing(as: "alice", by: admin)
        let alice = try await users.user("alice", by: admin)
        #expect(!viewing.isAdmin && viewing.userId == alice.id)
        await #expect(throws: AuthorizationError.adminOnly(action: "view defpi as another user", caller: viewing.name)) {
            try await users.viewing(as: "alice", by: viewing)
        }
    }
}
