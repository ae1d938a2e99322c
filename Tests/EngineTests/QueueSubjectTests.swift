import DefpiTesting
import Foundation
import Testing

@testable import Engine

/// A step whose subject is a pool: it ends obsolete when the pool is not stored.
struct PoolSubjectStep: ChangeStep {
    struct Payload: Codable, Sendable {
        var poolId: String
    }

    static let kind: PendingChangeKind = "POOL_SUBJECT"
    let store: any Store

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        guard try await store.fetch(NodePool.self, id: payload.poolId) != nil else {
            throw ChangeObsolete.missing("the pool no longer exists")
        }
    }

    static func change(_ poolId: String) throws -> PendingChange {
        try PendingChange(Self.self, Payload(poolId: poolId), description: "pool \(poolId)", resources: [poolId], createdBy: "test")
    }
}

/// A store without transactions makes a change visible before the intent written with it: the
/// change waits for its subject instead of ending, and ends only once the subject stays away.
@Suite("Queue: a change and its subject", .timeLimit(.minutes(2)))
struct QueueSubjectTests {
    static func queue(_ store: any Store, subjects: any Store) -> PendingChangeManager {
        let queue = PendingChangeManager(store: store, notifications: EngineNotifications(), owner: "engine-a",
                                         settings: QueueSettings(workers: 2, leaseDuration: .seconds(6), maximumClockSkew: .seconds(1),
                                                                 maximumBackoff: .milliseconds(50), idlePoll: .milliseconds(20)))
        queue.register(PoolSubjectStep(store: subjects))
        return queue
    }

    @Test("a change leased between its batch's writes waits for its subject, and finishes", arguments: StoreBackend.available)
    func waitsForSubject(backend: StoreBackend) async throws {
        let faulty = FaultyStore(try await backend.makeStore())
        let queue = Self.queue(faulty, subjects: faulty.base)
        let worker = Task { await queue.run() }
        defer { worker.cancel() }
        // The change is written first, then, 2 s later, the pool it is about.
        faulty.inject(.oneByOne(pause: .seconds(2)), into: .write, calls: 1...1)
        let pool = NodePool(name: "edge")
        var intent = StoreBatch()
        intent.insert(pool)
        let change = try await queue.enqueue(try PoolSubjectStep.change(pool.id), with: intent)
        #expect(await eventually(timeout: .seconds(20)) {
            (try? await faulty.base.fetch(PendingChange.self, id: change.id))?.state == .finished
        })
        let ended = try #require(try await faulty.base.fetch(PendingChange.self, id: change.id))
        #expect(ended.state == .finished && ended.count >= 2, "\(ended.state) after \(ended.count) attempts: \(ended.lastError ?? "")")
    }

    @Test("a change whose subject never comes ends cancelled once the grace has passed")
    func subjectNeverComes() async throws {
        let store = try await StoreBackend.sqlite.makeStore()
        let queue = Self.queue(store, subjects: store)
        let worker = Task { await queue.run() }
        defer { worker.cancel() }
        let change = try await queue.enqueue(try PoolSubjectStep.change(ObjectID.generate()))
        #expect(await eventually(timeout: .seconds(40)) { (try? await store.fetch(PendingChange.self, id: change.id))?.state == .cancelled })
        let ended = try #require(try await store.fetch(PendingChange.self, id: change.id))
        #expect(ended.lastError == "the pool no longer exists" && Date().timeIntervalSince(ended.created) >= queue.subjectGrace,
                "\(ended.lastError ?? "") after \(Date().timeIntervalSince(ended.created)) s")
    }
}
