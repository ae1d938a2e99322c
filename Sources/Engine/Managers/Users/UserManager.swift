import Foundation
import Logging

/// The people who sign in to defpi. Admins manage users, nodes and pools; a user sees and
/// changes only their own account (email, password) and environment. There is no default user:
/// the first admin is made with `defpi user add NAME --admin` by someone with access to the store.
public final class UserManager: Sendable {
    let store: any Store
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.users")

    init(store: any Store, notifications: EngineNotifications) {
        self.store = store
        self.notifications = notifications
    }

    // MARK: Reading

    /// The users `caller` may see, by username: everyone for an admin, else themselves.
    public func users(by caller: Caller) async throws -> [User] {
        let all = caller.isAdmin ? try await store.all(User.self) : try await store.all(User.self, .where("id", is: caller.userId ?? ""))
        return all.map(\.withoutPassword).sorted { $0.username < $1.username }
    }

    /// The user a reference names (username or id, or a unique id prefix), if `caller` may see them.
    public func user(_ reference: String, by caller: Caller) async throws -> User {
        try await visible(reference, to: caller).withoutPassword
    }

    /// The user a reference names among those `caller` may see: a user looks only among
    /// themselves, so neither an error nor its message tells them who else exists.
    private func visible(_ reference: String, to caller: Caller) async throws -> User {
        if caller.isAdmin { return try await resolve(reference) }
        guard let own = try await store.first(User.self, .where("id", is: caller.userId ?? "")),
              own.id == reference || own.username == reference else {
            throw LookupError.notFound(what: "user", reference: reference)
        }
        return own
    }

    /// The user a reference names, for managers that check the caller themselves.
    func resolve(_ reference: String) async throws -> User {
        try References.resolve(reference, in: try await store.all(User.self), what: "user",
                               key: { [$0.id, $0.username] }, prefix: { $0.id }, label: { $0.username })
    }

    // MARK: Changing

    /// Makes a new user (admin only). The username is fixed for good.
    @discardableResult
    public func create(username: String, password: String, email: String? = nil, admin: Bool = false,
                       by caller: Caller) async throws -> User {
        try caller.requireAdmin(to: "add users")
        try Self.check(username: username)
        try Self.check(password: password)
        let email = try Self.checked(email: email)
        let user: User
        do {
            user = try await store.insert(User(username: username, passwordHash: try await PasswordHashing.hash(password),
                                               email: email, admin: admin))
        } catch StoreError.duplicate(_, field: "username", _) {
            throw UserError.usernameTaken(username)
        }
        await record(caller, "user.created", user, detail: admin ? "admin" : "user")
        notifications.publish(.entity(.user, id: user.id, change: .added))
        return user.withoutPassword
    }

    /// Changes a user's email, password or role. A user may change their own email and password
    /// (the password only with `currentPassword`, the one it replaces: a borrowed session or
    /// token cannot take the account over); only an admin changes roles or other users (and
    /// resets their passwords without the old one), and no admin can take away the last admin.
    @discardableResult
    public func update(_ reference: String, email: String?? = nil, password: String? = nil, currentPassword: String? = nil,
                       admin: Bool? = nil, by caller: Caller) async throws -> User {
        var user = try await visible(reference, to: caller)
        if password != nil, caller.userId == user.id {
            guard let currentPassword else { throw UserError.currentPasswordRequired }
            guard try await PasswordHashing.verify(currentPassword, username: user.username, hash: user.passwordHash) else {
                throw UserError.currentPasswordWrong
            }
        }
        var otherAdmins: [User] = []
        if let admin, admin != user.admin {
            try caller.requireAdmin(to: "change roles")
            if !admin { otherAdmins = try await self.otherAdmins(than: user, to: "take the admin role from") }
            user.admin = admin
        }
        if let email { user.email = try Self.checked(email: email) }
        if let password {
            try Self.check(password: password)
            user.passwordHash = try await PasswordHashing.hash(password)
        }
        var write = StoreBatch()
        write.update(user)
        try await self.write(write, keeping: otherAdmins)
        let stored = user.atRevision(user.revision + 1)
        // The new hash has already ended every token made with the old one (`AccessToken.passwordStamp`);
        // their records go too.
        if password != nil { try await revokeTokens(of: user) }
        await record(caller, "user.updated", user, detail: [email != nil ? "email" : nil, password != nil ? "password" : nil,
                                                             admin.map { $0 ? "admin" : "user" }].compactMap { $0 }
            .joined(separator: ", "))
        notifications.publish(.entity(.user, id: user.id, change: .modified))
        return stored.withoutPassword
    }

    /// Removes a user (admin only): refused while they own processes or private nodes, and for
    /// the last admin.
    public func delete(_ reference: String, by caller: Caller) async throws {
        try caller.requireAdmin(to: "remove users")
        let user = try await resolve(reference)
        let otherAdmins = user.admin ? try await self.otherAdmins(than: user, to: "remove") : []
        let processes = try await store.all(ServiceProcess.self, .where("userId", is: user.id)).filter { $0.state != .terminated }
        let nodes = try await store.all(Node.self, .and([.where("userId", is: user.id), .where("kind", is: NodeKind.private.rawValue)]))
        guard processes.isEmpty && nodes.isEmpty else {
            throw UserError.stillOwns(user: user.username, processes: processes.map(\.name), nodes: nodes.map(\.name))
        }
        if otherAdmins.isEmpty {
            guard try await store.delete(User.self, id: user.id, revision: user.revision) else {
                throw LookupError.notFound(what: "user", reference: reference)
            }
        } else {
            var removal = StoreBatch()
            removal.delete(User.self, id: user.id, revision: user.revision)
            try await write(removal, keeping: otherAdmins)
        }
        try await revokeTokens(of: user)
        await record(caller, "user.deleted", user, detail: user.username)
        notifications.publish(.entity(.user, id: user.id, change: .deleted))
    }

    /// The user whose username and password these are; a hash in the original's format is
    /// upgraded to bcrypt on the way. Every failure is the same error, so it tells nothing.
    public func authenticate(username: String, password: String) async throws -> User {
        try await verifiedUser(username: username, password: password).withoutPassword
    }

    /// `authenticate`, keeping the user's password hash: the one the password matched, or the
    /// bcrypt hash it was upgraded to.
    func verifiedUser(username: String, password: String) async throws -> User {
        let found = try await store.first(User.self, .where("username", is: username))
        // An unknown name costs a bcrypt check too, so the time taken tells nothing.
        guard try await PasswordHashing.verify(password, username: username, hash: found?.passwordHash),
              var user = found, let hash = user.passwordHash else {
            throw UserError.signInRefused
        }
        if PasswordHashing.needsUpgrade(hash) {
            user.passwordHash = try await PasswordHashing.hash(password)
            do {
                user = try await store.update(user)
                logger.info("the password hash of \(username) was upgraded to bcrypt")
            } catch {
                // Another sign-in may have upgraded it first: then its hash is the user's now.
                let current = try await store.fetch(User.self, id: user.id)
                if let current, try await PasswordHashing.verify(password, username: username, hash: current.passwordHash) {
                    user = current
                } else {
                    logger.warning("could not upgrade the password hash of \(username): \(error); trying again at the next sign-in")
                    user.passwordHash = hash
                }
            }
        }
        return user
    }

    /// The caller that sees what `reference`'s user sees, for an admin who views defpi as them:
    /// their rights exactly, never more (no admin right, even over an admin's environment).
    public func viewing(as reference: String, by caller: Caller) async throws -> Caller {
        try caller.requireAdmin(to: "view defpi as another user")
        let user = try await resolve(reference)
        return Caller(userId: user.id, name: "\(caller.name) as \(user.username)", isAdmin: false)
    }

    private func revokeTokens(of user: User) async throws {
        _ = try await store.deleteAll(AccessToken.self, .where("userId", is: user.id))
    }

    /// The admins besides `user`, when `user` is to lose the role (or go); none: `lastAdmin`.
    private func otherAdmins(than user: User, to action: String) async throws -> [User] {
        let others = try await store.all(User.self, .equals("admin", .bool(true))).filter { $0.id != user.id }
        guard !others.isEmpty else { throw UserError.lastAdmin(action: action, user: user.username) }
        return others
    }

    /// Writes `final` after rewriting each of `otherAdmins` at the revision read, in one batch:
    /// so the store, not a read before the write, keeps an admin. Of two admins taking the role
    /// from each other at once, at most one succeeds: each rewrites the other first (a store
    /// without transactions applies the writes in order), and a rewrite or the change fails on
    /// the other's. The loser is told the admins changed.
    private func write(_ final: StoreBatch, keeping otherAdmins: [User]) async throws {
        var batch = StoreBatch()
        for other in otherAdmins { batch.update(other) }
        batch.append(final)
        do {
            try await store.write(batch)
        } catch StoreError.conflict where !otherAdmins.isEmpty {
            throw UserError.adminsChanged
        } catch StoreError.notFound where !otherAdmins.isEmpty {
            throw UserError.adminsChanged
        }
    }

    private func record(_ caller: Caller, _ action: String, _ user: User, detail: String) async {
        await store.audit(AuditEvent(actor: caller.name, action: action, target: user.id, detail: "\(user.username): \(detail)"),
                          logger: logger)
    }

    // MARK: Rules

    static func check(username: String) throws {
        let allowed = CharacterSet.lowercaseLetters.union(.decimalDigits).union(CharacterSet(charactersIn: "._-"))
        guard (1...64).contains(username.count), username.unicodeScalars.allSatisfy({ allowed.contains($0) && $0.isASCII }),
              username.first.map({ $0.isLetter || $0.isNumber }) == true else {
            throw UserError.invalidUsername(username)
        }
    }

    static func check(password: String) throws {
        guard password.count >= 8 else { throw UserError.weakPassword }
        // bcrypt reads at most 72 bytes: a longer password would be silently cut.
        guard password.utf8.count <= 72 else { throw UserError.passwordTooLong }
    }

    static func checked(email: String?) throws -> String? {
        guard let email = email?.trimmingCharacters(in: .whitespaces), !email.isEmpty else { return nil }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !email.contains(" ") else {
            throw UserError.invalidEmail(email)
        }
        return email
    }
}

extension User {
    /// The user as fronts show it: never the password hash.
    var withoutPassword: User {
        var copy = self
        copy.passwordHash = nil
        return copy
    }
}

/// Why a user operation was refused.
public enum UserError: UserFacingError, Equatable {
    case invalidUsername(String)
    case usernameTaken(String)
    case weakPassword
    case passwordTooLong
    case invalidEmail(String)
    case stillOwns(user: String, processes: [String], nodes: [String])
    case lastAdmin(action: String, user: String)
    case signInRefused
    case currentPasswordRequired
    case currentPasswordWrong
    case adminsChanged

    public var failureKind: FailureKind {
        switch self {
        case .invalidUsername, .weakPassword, .passwordTooLong, .invalidEmail: return .invalidRequest
        case .usernameTaken, .stillOwns, .lastAdmin: return .conflict
        case .signInRefused: return .unauthenticated
        case .currentPasswordRequired: return .invalidRequest
        case .currentPasswordWrong: return .forbidden
        case .adminsChanged: return .conflict
        }
    }

    public var userMessage: String {
        switch self {
        case .invalidUsername(let name):
            return "\"\(name)\" is not a valid username; use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        case .usernameTaken(let name):
            return "a user named \(name) exists already"
        case .weakPassword:
            return "the password is too short; use at least 8 characters"
        case .passwordTooLong:
            return "the password is longer than 72 bytes, more than bcrypt reads; use a shorter one"
        case .invalidEmail(let email):
            return "\"\(email)\" is not an email address (name@domain)"
        case .stillOwns(let user, let processes, let nodes):
            let owned = [processes.isEmpty ? nil : "processes \(processes.joined(separator: ", "))",
                         nodes.isEmpty ? nil : "private nodes \(nodes.joined(separator: ", "))"].compactMap { $0 }
            return "\(user) still owns \(owned.joined(separator: " and ")); terminate the processes and declassify the nodes first"
        case .lastAdmin(let action, let user):
            return "cannot \(action) \(user): they are the last admin; make another user admin first"
        case .signInRefused:
            return "wrong username or password"
        case .currentPasswordRequired:
            return "changing your own password needs your current password too (currentPassword; the CLI asks for it)"
        case .currentPasswordWrong:
            return "the current password is not right; nothing was changed"
        case .adminsChanged:
            return "the admins changed while this was asked (another admin's role or account changed); nothing was changed, try again"
        }
    }
}
