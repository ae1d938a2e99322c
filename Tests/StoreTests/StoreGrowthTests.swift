import DefpiTesting
import Foundation
import GRDB
import Testing

@testable import Engine

/// What the store keeps does not grow without bound: ended changes (failed ones too) are
/// pruned after their age, a user's tokens are capped, and the audit trail of a change is read
/// through an index, however long the trail of everything is.
@Suite("Store growth", .timeLimit(.minutes(2)))
struct StoreGrowthTests {
    @Test("pruning: finished and cancelled changes after a week, failed ones after a month, waiting ones never",
          arguments: StoreBackend.available)
    func pruning(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let now = Date()
        let day: TimeInterval = 86_400
        let kept: [(PendingChangeState, TimeInterval)] = [(.finished, 6 * day), (.failedPermanently, 29 * day), (.new, 400 * day),
                                                          (.failedTemporary, 400 * day)]
        let pruned: [(PendingChangeState, TimeInterval)] = [(.finished, 8 * day), (.cancelled, 8 * day), (.failedPermanently, 31 * day)]
        var keptIds: [String] = []
        for (index, (state, age)) in (kept + pruned).enumerated() {
            let change = try await store.insert(PendingChange(type: "SCRIPTED", description: "c\(index)", resources: [ObjectID.generate()],
                                                              state: state, createdBy: "test", updated: now - age))
            if index < kept.count { keptIds.append(change.id) }
        }
        let queue = PendingChangeManager(store: store, notifications: EngineNotifications(), owner: "a", settings: QueueSettings(clock: { now }))
        #expect(try await queue.prune().changes == pruned.count)
        #expect(Set(try await store.all(PendingChange.self).map(\.id)) == Set(keptIds))
    }

    @Test("a user's tokens are capped: the oldest ends as a new one is made", arguments: StoreBackend.available)
    func tokensCapped(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let users = UserManager(store: store, notifications: EngineNotifications())
        try await users.create(username: "alice", password: "a-long-password", by: .localOperator())
        let signIn = SignInManager(store: store, users: users, settings: SignInSettings())
        var tokens: [String] = []
        for _ in 0..<(SignInManager.maximumTokensPerUser + 5) {
            tokens.append(try await signIn.signIn(username: "alice", password: "a-long-password", source: "script").token)
        }
        #expect(try await store.count(AccessToken.self, .all) == SignInManager.maximumTokensPerUser)
        await #expect(throws: SignInError.tokenRefused) { try await signIn.caller(bearer: tokens[0]) }
        #expect(try await signIn.caller(bearer: tokens.last!).name == "alice")
    }

    @Test("a change's audit trail is read through an index (SQLite's query plan says which)")
    func auditIndexedByChange() async throws {
        let path = TemporaryDirectory.make().path + "/defpi.sqlite"
        _ = try SQLiteStore(path: path)
        let queue = try DatabaseQueue(path: path)
        let plan = try await queue.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id FROM AuditEvent WHERE json_extract(data, '$.changeId') = ?",
                             arguments: ["x"]).map { $0["detail"] as String? ?? "" }.joined(separator: "; ")
        }
        #expect(plan.contains("AuditEvent_changeId"), "\(plan)")
    }
}
