import DefpiTesting
import Engine
import Foundation
import Testing

/// The queue primitives every backend provides: leases that exclude shared resources across
/// engines, are fenced by their expiry, and lease only the kinds asked for. Resources are real
/// ObjectID ids, as the managers use them.
@Suite("Store queue", .timeLimit(.minutes(5)))
struct StoreQueueTests {
    let now = Fixtures.epoch
    let kinds: Set<PendingChangeKind> = [Fixtures.changeKind]
    /// Ids of processes, nodes and users, as the managers' changes lock them.
    let p1 = ObjectID.generate(), p2 = ObjectID.generate(), p3 = ObjectID.generate(), u1 = ObjectID.generate()

    private func lease(_ store: any Store, _ owner: String, until: Date, at now: Date,
                       kinds: Set<PendingChangeKind>? = nil, only changeId: String? = nil) async throws -> PendingChange? {
        try await store.leaseNextChange(owner: owner, kinds: kinds ?? self.kinds, changeId: changeId, leaseUntil: until, now: now)
    }

    @Test("the queue leases the earliest due change and only when it is due", arguments: StoreBackend.available)
    func leasingOrder(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let later = try await store.enqueue(Fixtures.change([p2], runAt: now - 5))
        let earliest = try await store.enqueue(Fixtures.change([p1], runAt: now - 10))
        _ = try await store.enqueue(Fixtures.change([p3], runAt: now + 60))

        let first = try #require(try await lease(store, "w1", until: now + 30, at: now))
        #expect(first.id == earliest.id)
        #expect(first.state == .running && first.leaseOwner == "w1" && first.leaseExpiry == now + 30 && first.count == 1)
        #expect(try await lease(store, "w1", until: now + 30, at: now)?.id == later.id)
        #expect(try await lease(store, "w1", until: now + 30, at: now) == nil)
        #expect(try await lease(store, "w1", until: now + 90, at: now + 61) != nil)
    }

    @Test("changes that share a resource never run at once", arguments: StoreBackend.available)
    func resourceExclusion(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let createProcess = try await store.enqueue(Fixtures.change([p1, u1], runAt: now - 3))
        let configure = try await store.enqueue(Fixtures.change([p1], runAt: now - 2))
        let other = try await store.enqueue(Fixtures.change([p2], runAt: now - 1))

        let leased = try #require(try await lease(store, "w1", until: now + 30, at: now))
        #expect(leased.id == createProcess.id)
        #expect(try await lease(store, "w2", until: now + 30, at: now)?.id == other.id)
        #expect(try await lease(store, "w2", until: now + 30, at: now) == nil)

        let audit = AuditEvent(actor: "alice", action: "change.finished", target: p1, changeId: createProcess.id)
        let finished = try await store.closeLease(leased, owner: "w1", outcome: .finished, audit: audit,
                                                  now: now + 1)
        #expect(finished.state == .finished && finished.leaseOwner == nil && finished.leaseExpiry == nil)
        #expect(try await store.fetch(AuditEvent.self, id: audit.id)?.changeId == createProcess.id)
        #expect(try await lease(store, "w2", until: now + 30, at: now + 1)?.id == configure.id)
    }

    @Test("renewing, failing and retrying a lease", arguments: StoreBackend.available)
    func renewFailRetry(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let change = try await store.enqueue(Fixtures.change([p1], runAt: now))
        _ = try await lease(store, "w1", until: now + 10, at: now)
        let renewed = try await store.renewLease(changeId: change.id, owner: "w1", leaseUntil: now + 40, now: now + 5)
        #expect(renewed.leaseExpiry == now + 40)
        // Still held at now + 20: the renewed lease keeps others out.
        #expect(try await lease(store, "w2", until: now + 60, at: now + 20) == nil)

        let failed = try await store.closeLease(renewed, owner: "w1", outcome: .failed("node w2 unreachable", retryAt: now + 50),
                                                audit: nil, now: now + 21)
        #expect(failed.state == .failedTemporary && failed.lastError == "node w2 unreachable" && failed.runAt == now + 50)
        #expect(try await lease(store, "w2", until: now + 60, at: now + 49) == nil)
        let retried = try #require(try await lease(store, "w2", until: now + 80, at: now + 50))
        #expect(retried.id == change.id && retried.count == 2 && retried.leaseOwner == "w2")

        let dead = try await store.closeLease(retried, owner: "w2", outcome: .failed("image gone", retryAt: nil),
                                              audit: nil, now: now + 51)
        #expect(dead.state == .failedPermanently && dead.lastError == "image gone")
        #expect(try await lease(store, "w2", until: now + 999, at: now + 900) == nil)
        await #expect(throws: StoreError.leaseLost(changeId: change.id, owner: "w2")) {
            try await store.closeLease(retried, owner: "w2", outcome: .finished, audit: nil, now: now + 52)
        }
    }

    @Test("a holder's copy from before a renewal it did not hear of still closes its lease, once",
          arguments: StoreBackend.available)
    func closeOverStaleCopy(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let change = try await store.enqueue(Fixtures.change([p1], runAt: now))
        let leased = try #require(try await lease(store, "w1", until: now + 10, at: now))
        let renewed = try await store.renewLease(changeId: change.id, owner: "w1", leaseUntil: now + 40, now: now + 5)
        let closed = try await store.closeLease(leased, owner: "w1", outcome: .finished, audit: nil, now: now + 6)
        #expect(closed.state == .finished && closed.revision == renewed.revision + 1)
        #expect(try await store.fetch(PendingChange.self, id: change.id) == closed)
        await #expect(throws: StoreError.leaseLost(changeId: change.id, owner: "w1")) {
            try await store.closeLease(renewed, owner: "w1", outcome: .failed("late", retryAt: nil), audit: nil, now: now + 7)
        }
    }

    @Test("an expired lease on ObjectID resources is taken over, and the old holder loses it", arguments: StoreBackend.available)
    func expiredLeaseTakeover(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let change = try await store.enqueue(Fixtures.change([p1, u1], runAt: now))
        let blocked = try await store.enqueue(Fixtures.change([u1], runAt: now + 1))
        let stale = try #require(try await lease(store, "crashed-engine", until: now + 5, at: now))

        let takenOver = try #require(try await lease(store, "w2", until: now + 40, at: now + 6))
        #expect(takenOver.id == change.id && takenOver.count == 2 && takenOver.leaseOwner == "w2")
        #expect(try await lease(store, "w3", until: now + 40, at: now + 6) == nil)
        await #expect(throws: StoreError.leaseLost(changeId: change.id, owner: "crashed-engine")) {
            try await store.closeLease(stale, owner: "crashed-engine", outcome: .finished, audit: nil, now: now + 7)
        }
        // Its clock behind, the old holder still believes in its copy: the copy never overwrites the takeover.
        await #expect(throws: StoreError.leaseLost(changeId: change.id, owner: "crashed-engine")) {
            try await store.closeLease(stale, owner: "crashed-engine", outcome: .finished, audit: nil, now: now + 4)
        }
        await #expect(throws: StoreError.leaseLost(changeId: change.id, owner: "crashed-engine")) {
            try await store.renewLease(changeId: change.id, owner: "crashed-engine", leaseUntil: now + 99, now: now + 7)
        }
        _ = try await store.closeLease(takenOver, owner: "w2", outcome: .finished, audit: nil, now: now + 8)
        #expect(try await lease(store, "w3", until: now + 40, at: now + 8)?.id == blocked.id)
    }

    @Test("an expired lease cannot be renewed, finished, failed, ended or released, even by its holder",
          arguments: StoreBackend.available)
    func expiredLeaseIsFenced(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let change = try await store.enqueue(Fixtures.change([p1], runAt: now))
        let leased = try #require(try await lease(store, "w1", until: now + 10, at: now))
        let late = now + 10
        let lost = StoreError.leaseLost(changeId: change.id, owner: "w1")
        await #expect(throws: lost) { try await store.renewLease(changeId: change.id, owner: "w1", leaseUntil: now + 70, now: late) }
        await #expect(throws: lost) {
            try await store.closeLease(leased, owner: "w1", outcome: .finished, audit: nil, now: late)
        }
        await #expect(throws: lost) {
            try await store.closeLease(leased, owner: "w1", outcome: .failed("x", retryAt: nil), audit: nil, now: late)
        }
        await #expect(throws: lost) {
            try await store.closeLease(leased, owner: "w1", outcome: .ended(.cancelled, reason: "x"), audit: nil, now: late)
        }
        await #expect(throws: lost) {
            try await store.closeLease(leased, owner: "w1", outcome: .givenBack, audit: nil, now: late)
        }
        let stored = try #require(try await store.fetch(PendingChange.self, id: change.id))
        #expect(stored.state == .running && stored.leaseExpiry == now + 10)
        // One millisecond earlier it was still held.
        let justInTime = try await store.closeLease(leased, owner: "w1", outcome: .finished, audit: nil,
                                                    now: late - 0.001)
        #expect(justInTime.state == .finished)
    }

    @Test("only the kinds asked for are leased; a kind nobody knows stays untouched", arguments: StoreBackend.available)
    func kindsFilter(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let future = try await store.enqueue(Fixtures.change([p1], runAt: now - 2, type: "FROM_A_NEWER_DEFPI"))
        let known = try await store.enqueue(Fixtures.change([p2], runAt: now - 1))
        #expect(try await lease(store, "w1", until: now + 30, at: now, kinds: []) == nil)
        #expect(try await lease(store, "w1", until: now + 30, at: now)?.id == known.id)
        #expect(try await lease(store, "w1", until: now + 30, at: now) == nil)
        #expect(try await store.fetch(PendingChange.self, id: future.id) == future)
        #expect(try await lease(store, "w2", until: now + 30, at: now, kinds: ["FROM_A_NEWER_DEFPI"])?.id == future.id)
    }

    @Test("one change can be leased by its id, only when it is due and its resources are free",
          arguments: StoreBackend.available)
    func leaseById(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let first = try await store.enqueue(Fixtures.change([p1], runAt: now - 2))
        let mine = try await store.enqueue(Fixtures.change([p2], runAt: now - 1))
        let later = try await store.enqueue(Fixtures.change([p3], runAt: now + 5))
        #expect(try await lease(store, "w1", until: now + 30, at: now, only: mine.id)?.id == mine.id)
        #expect(try await lease(store, "w1", until: now + 30, at: now, only: later.id) == nil)
        #expect(try await store.fetch(PendingChange.self, id: first.id)?.state == .new)
        let sharing = try await store.enqueue(Fixtures.change([p2], runAt: now - 1))
        #expect(try await lease(store, "w1", until: now + 30, at: now, only: sharing.id) == nil)
    }

    @Test("ending a change releases its resources; releasing gives it back untried and due at once",
          arguments: StoreBackend.available)
    func endAndRelease(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let obsolete = try await store.enqueue(Fixtures.change([p1], runAt: now - 2))
        let interrupted = try await store.enqueue(Fixtures.change([p2], runAt: now - 1))
        let leasedFirst = try #require(try await lease(store, "w1", until: now + 30, at: now))
        let leasedSecond = try #require(try await lease(store, "w1", until: now + 30, at: now))
        #expect(leasedFirst.id == obsolete.id && leasedSecond.id == interrupted.id)
        let ended = try await store.closeLease(leasedFirst, owner: "w1", outcome: .ended(.cancelled, reason: "the node left the swarm"),
                                              audit: nil, now: now + 1)
        #expect(ended.state == .cancelled && ended.lastError == "the node left the swarm" && ended.leaseOwner == nil)
        let released = try await store.closeLease(leasedSecond, owner: "w1", outcome: .givenBack, audit: nil,
                                                  now: now + 2)
        #expect(released.state == .new && released.count == 0 && released.runAt == now + 2 && released.leaseOwner == nil)

        _ = try await store.enqueue(Fixtures.change([p1], runAt: now + 2.5))
        let next = try #require(try await lease(store, "w2", until: now + 30, at: now + 3))
        #expect(next.id == interrupted.id)
        #expect(try await lease(store, "w2", until: now + 30, at: now + 3)?.resources == [p1])
    }

    @Test("the queue lists with paging, sort and a state filter", arguments: StoreBackend.available)
    func queueListing(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let resources = (0..<6).map { _ in ObjectID.generate() }
        for (index, resource) in resources.enumerated() { _ = try await store.enqueue(Fixtures.change([resource], runAt: now + Double(index))) }
        for _ in 0..<2 {
            let leased = try #require(try await lease(store, "w1", until: now + 60, at: now + 10))
            _ = try await store.closeLease(leased, owner: "w1", outcome: .finished, audit: nil, now: now + 10)
        }
        let waiting = try await store.list(PendingChange.self, StoreQuery(
            filter: .where("state", is: PendingChangeState.new.rawValue), sort: [StoreSort("runAt", ascending: false)], limit: 3))
        #expect(waiting.total == 4)
        #expect(waiting.items.map(\.resources) == [[resources[5]], [resources[4]], [resources[3]]])
    }

    @Test("two engines on one store never run changes that share a resource at once", arguments: StoreBackend.available)
    func concurrentEngines(backend: StoreBackend) async throws {
        let location = backend.freshLocation()
        let engines = [try await StoreLocation(parsing: location).open(), try await StoreLocation(parsing: location).open()]
        let pool = (0..<10).map { _ in ObjectID.generate() }
        let changes = 60
        for index in 0..<changes {
            _ = try await engines[0].enqueue(Fixtures.change([pool[index % 10], pool[(index + 7) % 10]], runAt: Date() - 1))
        }
        let monitor = LeaseMonitor()
        let kinds = self.kinds
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<6 {
                let store = engines[worker % 2]
                group.addTask {
                    let owner = "engine\(worker % 2)-worker\(worker)"
                    var idle = 0
                    while idle < 20 {
                        guard let change = try await store.leaseNextChange(owner: owner, kinds: kinds, leaseUntil: Date() + 60,
                                                                           now: Date()) else {
                            idle += 1
                            try await Task.sleep(for: .milliseconds(5))
                            continue
                        }
                        idle = 0
                        try await monitor.begin(change)
                        try await Task.sleep(for: .milliseconds(1))
                        await monitor.end(change)
                        _ = try await store.closeLease(change, owner: owner, outcome: .finished, audit: nil,
                                                       now: Date())
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await monitor.finished.count == changes)
        #expect(await monitor.finished.allSatisfy { $0.value == 1 })
        #expect(try await engines[1].count(PendingChange.self, .where("state", is: "FINISHED")) == changes)
    }

    @Test("a batch is one transaction on SQLite; on MongoDB its writes go in order and stop at the first failure",
          arguments: StoreBackend.available)
    func batches(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let node = try await store.insert(Fixtures.node())
        var stale = node.atRevision(0)
        stale.name = "renamed"
        var batch = StoreBatch()
        let change = Fixtures.change([node.id])
        batch.insert(change)
        batch.update(stale)
        batch.insert(Fixtures.audit())
        await #expect(throws: StoreError.conflict(.node, id: node.id, expectedRevision: 0, storedRevision: 1)) {
            try await store.write(batch)
        }
        let survived = try await store.fetch(PendingChange.self, id: change.id) != nil
        #expect(survived == (backend == .mongo))
        #expect(try await store.count(AuditEvent.self, .all) == 0)

        var good = StoreBatch()
        var renamed = node
        renamed.name = "renamed"
        good.update(renamed)
        good.insert(Fixtures.change([node.id]))
        good.delete(Node.self, id: ObjectID.generate(), revision: nil)
        try await store.write(good)
        #expect(try await store.fetch(Node.self, id: node.id)?.name == "renamed")
        #expect(try await store.count(PendingChange.self, .all) == (backend == .mongo ? 2 : 1))
    }

    @Test("deleting by filter removes exactly the matches", arguments: StoreBackend.available)
    func deleteByFilter(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        for offset in [-30.0, -20, -10, 10] { _ = try await store.insert(AuditEvent(time: now + offset, actor: "a", action: "x", target: "t")) }
        #expect(try await store.deleteAll(AuditEvent.self, .lessThan("time", .date(now - 15))) == 2)
        #expect(try await store.all(AuditEvent.self).map(\.time).sorted() == [now - 10, now + 10])
    }

    @Test("the queue pane's order (newest first) is served by an index, not sorted in memory")
    func queuePaneUsesIndex() async throws {
        let store = try #require(try await StoreBackend.sqlite.makeStore() as? SQLiteStore)
        let plan = try await store.queryPlan(PendingChange.self, StoreQuery(sort: PendingChangeManager.newestFirst, limit: 1000))
        #expect(plan.contains { $0.contains("PendingChange_created") }, "\(plan)")
        #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
    }
}

/// Records which resources are held right now and fails if two leased changes share one.
actor LeaseMonitor {
    private var held: Set<String> = []
    private(set) var finished: [String: Int] = [:]

    func begin(_ change: PendingChange) throws {
        let overlap = held.intersection(change.resources)
        guard overlap.isEmpty else { throw OverlapError(resources: overlap) }
        held.formUnion(change.resources)
    }

    func end(_ change: PendingChange) {
        held.subtract(change.resources)
        finished[change.id, default: 0] += 1
    }

    struct OverlapError: Error {
        let resources: Set<String>
    }
}
