import Crypto
import Foundation
import Logging
import Synchronization

/// How long tokens live and how failed sign-ins are slowed down.
public struct SignInSettings: Sendable {
    public var tokenLifetime: Duration
    public var clock: @Sendable () -> Date
    var throttle = SignInThrottle.Policy()

    public init(tokenLifetime: Duration = .seconds(12 * 3600), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.tokenLifetime = tokenLifetime
        self.clock = clock
    }
}

/// A token handed out by `signIn`: shown once, stored only as a hash.
public struct IssuedToken: Sendable, Codable, Equatable {
    public var token: String
    public var expires: Date
    public var user: User
}

/// Turns credentials into a `Caller`: a username and password (HTTP Basic, the console's
/// prompt) or a bearer token from `signIn`. Failed attempts are throttled per username and
/// source; every refusal says the same, so it tells nothing about who exists.
public final class SignInManager: Sendable {
    private let store: any Store
    private let users: UserManager
    private let settings: SignInSettings
    private let throttle: SignInThrottle
    /// Passwords checked lately, by a keyed digest of username and password, with the hash they
    /// matched: HTTP Basic sends the password with every request, and bcrypt takes a quarter of a
    /// second on purpose. A hit counts only while the user's stored hash is still that one.
    private let verified = Mutex<[String: String]>([:])
    private let cacheKey = SymmetricKey(size: .bits256)
    private let logger = Logger(label: "defpi.signin")

    init(store: any Store, users: UserManager, settings: SignInSettings) {
        self.store = store
        self.users = users
        self.settings = settings
        throttle = SignInThrottle(policy: settings.throttle, clock: settings.clock)
    }

    /// The caller whose username and password these are; `source` (an address) scopes the throttle.
    public func caller(username: String, password: String, source: String) async throws -> Caller {
        Caller(user: try await user(username: username, password: password, source: source))
    }

    /// Signs a user in: a new token, valid for the configured lifetime on every engine of the store.
    public func signIn(username: String, password: String, source: String) async throws -> IssuedToken {
        let user = try await user(username: username, password: password, source: source)
        let token = Self.newToken()
        let now = settings.clock()
        let expires = now.addingTimeInterval(settings.tokenLifetime.seconds)
        _ = try await store.insert(AccessToken(userId: user.id, tokenHash: Self.digest(token), created: now, expires: expires,
                                               source: source, passwordStamp: user.passwordHash.map(Self.digest)))
        try await dropOldestTokens(of: user.id)
        await store.audit(AuditEvent(actor: user.username, action: "user.signed-in", target: user.id, detail: "from \(source)"),
                          logger: logger)
        return IssuedToken(token: token, expires: expires, user: user.withoutPassword)
    }

    /// The caller a bearer token stands for, as the user's record says now (a role change counts
    /// at once); refused when the token is unknown, expired or revoked, or the user's password
    /// changed since it was made.
    public func caller(bearer token: String) async throws -> Caller {
        guard let stored = try await store.first(AccessToken.self, .where("tokenHash", is: Self.digest(token))),
              stored.expires > settings.clock(),
              let user = try await store.fetch(User.self, id: stored.userId),
              let stamp = stored.passwordStamp, stamp == user.passwordHash.map(Self.digest) else {
            throw SignInError.tokenRefused
        }
        return Caller(user: user)
    }

    /// Revokes one token (signing out). An unknown token is already as good as revoked.
    public func signOut(bearer token: String) async throws {
        _ = try await store.deleteAll(AccessToken.self, .where("tokenHash", is: Self.digest(token)))
    }

    /// A user's tokens at most: signing in again and again (a script without `/logout`) ends the
    /// oldest instead of growing the store.
    static let maximumTokensPerUser = 20

    private func dropOldestTokens(of userId: String) async throws {
        let tokens = try await store.list(AccessToken.self, StoreQuery(filter: .where("userId", is: userId), sort: [StoreSort("created")]))
        for oldest in tokens.items.dropLast(Self.maximumTokensPerUser) {
            _ = try await store.delete(AccessToken.self, id: oldest.id, revision: nil)
        }
    }

    /// Removes expired tokens; returns how many.
    @discardableResult
    func prune() async throws -> Int {
        try await store.deleteAll(AccessToken.self, .lessThan("expires", .date(settings.clock())))
    }

    /// The user these credentials are, with the password hash they matched. The attempt is
    /// counted before bcrypt runs; an unknown username spends the shared budget of strangers.
    private func user(username: String, password: String, source: String) async throws -> User {
        try throttle.check(username: username, source: source)
        let key = cacheKey(username, password)
        let stored = try await store.first(User.self, .where("username", is: username))
        if let stored, let hash = stored.passwordHash, verified.withLock({ $0[key] }) == hash {
            throttle.succeeded(username: username, source: source)
            return stored
        }
        if stored == nil { try throttle.admitStranger() }
        let attempt = try throttle.reserve(username: username, source: source)
        let user = try await users.verifiedUser(username: username, password: password)
        throttle.succeeded(attempt)
        if let hash = user.passwordHash {
            verified.withLock { cache in
                if cache.count > 1000 { cache.removeAll() }
                cache[key] = hash
            }
        }
        return user
    }

    private func cacheKey(_ username: String, _ password: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data("\(username)\u{0}\(password)".utf8), using: cacheKey)).base64EncodedString()
    }

    /// 32 random bytes, URL-safe base64, with a prefix that says what it is (and lets secret
    /// scanners find leaked ones).
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "defpi_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// What the store keeps of a token: its SHA-256 (a token is random enough that no slow hash is needed).
    static func digest(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Why a sign-in was refused.
public enum SignInError: UserFacingError, Equatable {
    case throttled(retryAfter: Duration)
    case tokenRefused
    case signInRequired

    public var failureKind: FailureKind {
        switch self {
        case .throttled(let retryAfter): return .throttled(retryAfter: retryAfter)
        case .tokenRefused, .signInRequired: return .unauthenticated
        }
    }

    public var userMessage: String {
        switch self {
        case .throttled(let retryAfter):
            return "too many failed sign-ins; try again in \(retryAfter.formattedSeconds)"
        case .tokenRefused:
            return "the token is unknown, expired or revoked; sign in again (POST /login)"
        case .signInRequired:
            return "sign in first: HTTP Basic with your username and password, or a bearer token from POST /login"
        }
    }
}
