import DefpiTesting
import Foundation
import Testing

@testable import Engine

/// Users: the rules, who may do what, and passwords (bcrypt; the original's hashes accepted
/// and upgraded at sign-in).
@Suite("Users", .timeLimit(.minutes(3)))
struct UserManagerTests {
    let admin = Caller.localOperator(name: "root")

    func makeUsers() async throws -> (UserManager, any Store) {
        let store = try await StoreBackend.sqlite.makeStore()
        return (UserManager(store: store, notifications: EngineNotifications()), store)
    }

    @Test("add, list, show, change and remove; no password hash ever leaves the manager")
    func lifecycle() async throws {
        let (users, store) = try await makeUsers()
        let alice = try await users.create(username: "alice", password: "correct horse", email: "alice@example.org",
                                           by: admin)
        #expect(alice.passwordHash == nil && alice.admin == false)
        #expect(try await store.fetch(User.self, id: alice.id)?.passwordHash?.hasPrefix("$2") == true)
        try await users.create(username: "root.ops", password: "battery staple", admin: true, by: admin)
        #expect(try await users.users(by: admin).map(\.username) == ["alice", "root.ops"])
        #expect(try await users.users(by: admin).allSatisfy { $0.passwordHash == nil })
        #expect(try await users.user("alice", by: admin).email == "alice@example.org")

        let changed = try await users.update("alice", email: .some(nil), admin: true, by: admin)
        #expect(changed.email == nil && changed.admin)
        try await users.delete(alice.id, by: admin)
        #expect(try await users.users(by: admin).map(\.username) == ["root.ops"])
        let actions = try await store.all(AuditEvent.self).map(\.action)
        #expect(actions == ["user.created", "user.created", "user.updated", "user.deleted"])
    }

    @Test("bad names, short or overlong passwords, bad emails and taken names are refused, nothing stored",
          arguments: [
              ("Alice", "long enough", nil, UserError.invalidUsername("Alice")),
              ("", "long enough", nil, UserError.invalidUsername("")),
              ("-x", "long enough", nil, UserError.invalidUsername("-x")),
              ("bob", "short", nil, UserError.weakPassword),
              ("bob", String(repeating: "x", count: 73), nil, UserError.passwordTooLong),
              ("bob", "long enough", "bob-at-example", UserError.invalidEmail("bob-at-example")),
          ] as [(String, String, String?, UserError)])
    func refusals(name: String, password: String, email: String?, error: UserError) async throws {
        let (users, store) = try await makeUsers()
        await #expect(throws: error) { try await users.create(username: name, password: password, email: email, by: admin) }
        #expect(try await store.count(User.self, .all) == 0)
    }

    @Test("a taken username is refused by name")
    func duplicate() async throws {
        let (users, _) = try await makeUsers()
        try await users.create(username: "carol", password: "long enough", by: admin)
        await #expect(throws: UserError.usernameTaken("carol")) {
            try await users.create(username: "carol", password: "another one", by: admin)
        }
    }

    @Test("a user sees and changes only their own account, and cannot make themselves admin")
    func authorization() async throws {
        let (users, _) = try await makeUsers()
        let dave = try await users.create(username: "dave", password: "long enough", by: admin)
        try await users.create(username: "erin", password: "long enough", by: admin)
        let asDave = Caller(user: dave)
        #expect(try await users.users(by: asDave).map(\.username) == ["dave"])
        await #expect(throws: LookupError.notFound(what: "user", reference: "erin")) { try await users.user("erin", by: asDave) }
        await #expect(throws: LookupError.notFound(what: "user", reference: "erin")) {
            try await users.update("erin", password: "hijacked!", by: asDave)
        }
        await #expect(throws: AuthorizationError.adminOnly(action: "change roles", caller: "dave")) {
            try await users.update("dave", admin: true, by: asDave)
        }
        await #expect(throws: AuthorizationError.adminOnly(action: "add users", caller: "dave")) {
            try await users.create(username: "mallory", password: "long enough", by: asDave)
        }
        try await users.update("dave", password: "a new secret", currentPassword: "long enough", by: asDave)
        #expect(try await users.authenticate(username: "dave", password: "a new secret").id == dave.id)
    }

    @Test("removing a user is refused while they own processes or private nodes, and for the last admin")
    func removalRules() async throws {
        let (users, store) = try await makeUsers()
        let frank = try await users.create(username: "frank", password: "long enough", by: admin)
        _ = try await store.insert(Fixtures.process(user: frank.id, name: "meter-1"))
        var node = Fixtures.node("tb-w9", kind: .private)
        node.userId = frank.id
        node.name = "frank-pi"
        _ = try await store.insert(node)
        await #expect(throws: UserError.stillOwns(user: "frank", processes: ["meter-1"], nodes: ["frank-pi"])) {
            try await users.delete("frank", by: admin)
        }
        let boss = try await users.create(username: "boss", password: "long enough", admin: true, by: admin)
        await #expect(throws: UserError.lastAdmin(action: "remove", user: "boss")) { try await users.delete("boss", by: admin) }
        await #expect(throws: UserError.lastAdmin(action: "take the admin role from", user: "boss")) {
            try await users.update(boss.id, admin: false, by: admin)
        }
        #expect(try await store.count(User.self, .all) == 2)
    }

    @Test("the original's SHA-256 hashes sign in and are upgraded to bcrypt; wrong passwords are refused alike")
    func legacyHashes() async throws {
        let (users, store) = try await makeUsers()
        // Computed with Python's hashlib the way the original did: hex of a BigInteger, no leading zero.
        #expect(PasswordHashing.originalHash("legacy-2", username: "bob")
            == "6da62a60b85037afde089aeb4d9204e0f3f842d75ea57d7c8cf7b603674c4c7")
        #expect(PasswordHashing.originalHash("admin", username: "admin")
            == "8ad4a1d4460de44ac1e6f7809b8168a11a3377e1530e0f31fa64adeaa445cc95")
        let bob = try await store.insert(User(username: "bob", passwordHash: "6da62a60b85037afde089aeb4d9204e0f3f842d75ea57d7c8cf7b603674c4c7"))
        await #expect(throws: UserError.signInRefused) { try await users.authenticate(username: "bob", password: "legacy-1") }
        await #expect(throws: UserError.signInRefused) { try await users.authenticate(username: "nobody", password: "legacy-2") }
        #expect(try await store.fetch(User.self, id: bob.id)?.passwordHash?.hasPrefix("6da6") == true)
        #expect(try await users.authenticate(username: "bob", password: "legacy-2").id == bob.id)
        #expect(try await store.fetch(User.self, id: bob.id)?.passwordHash?.hasPrefix("$2") == true)
        #expect(try await users.authenticate(username: "bob", password: "legacy-2").id == bob.id)
    }
}

extension UserManagerTests {
    @Test("a user learns nothing of other users: no names in errors, no difference between unknown and foreign")
    func noEnumeration() async throws {
        let (users, store) = try await makeUsers()
        let grace = try await users.create(username: "grace", password: "long enough", by: admin)
        let heidi = try await users.create(username: "heidi", password: "long enough", by: admin)
        let asGrace = Caller(user: grace)
        // An id prefix both share would be ambiguous for an admin, and name them; not for a user.
        let prefix = String(heidi.id.prefix(4))
        await #expect(throws: LookupError.notFound(what: "user", reference: prefix)) { try await users.user(prefix, by: asGrace) }
        let queue = PendingChangeManager(store: store, notifications: EngineNotifications())
        // Heidi has a change waiting: an admin sees it, grace neither by naming heidi nor in her own list.
        let heidis = try await queue.enqueue(Fixtures.change(["process-of-heidi"], user: heidi.id))
        #expect(try await queue.changes(ChangeFilter(user: "heidi"), by: admin).items.map(\.id) == [heidis.id])
        #expect(try await queue.changes(ChangeFilter(user: "heidi"), by: asGrace).items.isEmpty)
        #expect(try await queue.changes(ChangeFilter(), by: asGrace).items.isEmpty)
        #expect(try await queue.changes(ChangeFilter(user: "nobody"), by: asGrace).items.isEmpty)
        await #expect(throws: (any Error).self) { try await queue.change(heidis.id, by: asGrace) }
        await #expect(throws: UserError.signInRefused) { try await users.authenticate(username: "nobody", password: "x") }
    }
}
