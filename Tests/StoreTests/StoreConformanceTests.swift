import DefpiTesting
import Engine
import Foundation
import Testing

extension StoreBackend: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}

/// One suite, every backend: what the managers rely on from a store.
@Suite("Store conformance", .timeLimit(.minutes(5)))
struct StoreConformanceTests {
    @Test("the MongoDB backend is tested whenever the test command runs")
    func mongoIsConfiguredWhenRequired() {
        if TestBed.isRequired {
            #expect(TestBed.mongoURI != nil, "DEFPI_REQUIRE_TESTBED=1 but no TESTBED_MONGODB_URI: start scripts/testbed.sh")
        }
    }

    @Test("a store has one identity, kept across openings (also several at once), and no other store has it",
          arguments: StoreBackend.available)
    func identity(backend: StoreBackend) async throws {
        var identities: Set<String> = []
        for _ in 0..<3 {
            // Opened by four engines at once while new: each migrates it, one identity is made.
            let location = try StoreLocation(parsing: backend.freshLocation())
            let opened = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<4 { group.addTask { try await location.open().identity } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(opened.count == 1, "\(opened)")
            let identity = try #require(opened.first)
            #expect(ObjectID.isValid(identity))
            let reopened = try await location.open()
            #expect(reopened.identity == identity)
            #expect(try await reopened.inventory().identity == identity)
            identities.insert(identity)
        }
        #expect(identities.count == 3, "two stores share an identity")
    }

    // MARK: CRUD

    @Test("every entity round-trips through insert, fetch, update and delete", arguments: StoreBackend.available)
    func crudOfEveryEntity(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let user = Fixtures.user()
        try await roundTrip(user, in: store) { $0.email = "new@example.org" }
        try await roundTrip(Fixtures.pool(), in: store) { $0.name = "renamed" }
        try await roundTrip(Fixtures.node(), in: store) { $0.status = .down; $0.kind = .private; $0.userId = user.id }
        try await roundTrip(Fixtures.process(user: user.id), in: store) { $0.state = .suspended; $0.placement = .privateNode("n") }
        try await roundTrip(Fixtures.connection("p1", "p2"), in: store) { $0.port = 6000 }
        try await roundTrip(Fixtures.change(["p1"]), in: store) { $0.description = "changed" }
        try await roundTrip(Fixtures.audit(), in: store) { $0.detail = "more" }
    }

    private func roundTrip<E: Entity>(_ entity: E, in store: any Store, change: (inout E) -> Void) async throws {
        let inserted = try await store.insert(entity)
        #expect(inserted.revision == 1)
        #expect(try await store.fetch(E.self, id: entity.id) == inserted)

        var edited = inserted
        change(&edited)
        let updated = try await store.update(edited)
        #expect(updated.revision == 2)
        #expect(try await store.fetch(E.self, id: entity.id) == updated)
        #expect(updated != inserted)

        #expect(try await store.delete(E.self, id: entity.id, revision: 2))
        #expect(try await store.fetch(E.self, id: entity.id) == nil)
        #expect(try await store.delete(E.self, id: entity.id, revision: nil) == false)
    }

    @Test("a duplicate id is refused", arguments: StoreBackend.available)
    func duplicateId(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let pool = try await store.insert(Fixtures.pool())
        await #expect(throws: StoreError.duplicate(.nodePool, field: "id", value: pool.id)) {
            try await store.insert(Fixtures.pool("other").withID(pool.id))
        }
    }

    @Test("usernames are unique, on insert and on update", arguments: StoreBackend.available)
    func uniqueUsernames(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        _ = try await store.insert(Fixtures.user("alice"))
        await #expect(throws: StoreError.duplicate(.user, field: "username", value: "alice")) {
            try await store.insert(Fixtures.user("alice"))
        }
        var bob = try await store.insert(Fixtures.user("bob"))
        bob.username = "alice"
        await #expect(throws: StoreError.duplicate(.user, field: "username", value: "alice")) {
            try await store.update(bob)
        }
        #expect(try await store.count(User.self, .all) == 2)
    }

    @Test("concurrent writes each succeed or fail on their own, even when committed together", arguments: StoreBackend.available)
    func concurrentWritesAreIndependent(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let names = (0..<60).map { "user\($0 % 40)" }  // 20 names asked for twice: one of each pair is a duplicate.
        // Each write is a batch: a pool, then a user that may be a duplicate.
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for name in names {
                group.addTask {
                    var batch = StoreBatch()
                    batch.insert(Fixtures.pool("pool-of-\(name)").withID(ObjectID.generate()))
                    batch.insert(Fixtures.user(name))
                    return (try? await store.write(batch)) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 40 && outcomes.filter { !$0 }.count == 20)
        let stored = try await store.all(User.self)
        #expect(Set(stored.map(\.username)) == Set(names) && stored.count == 40)
        if backend == .sqlite {
            // A failed batch left nothing behind, though others committed in its transaction.
            #expect(try await store.count(NodePool.self, .all) == 40)
        }
    }

    @Test("one node per swarm node: a second node with the same swarm id is a duplicate", arguments: StoreBackend.available)
    func uniqueNodeDockerIds(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        _ = try await store.insert(Fixtures.node("tb-w1"))
        await #expect(throws: StoreError.duplicate(.node, field: "dockerId", value: "docker-tb-w1")) {
            try await store.insert(Fixtures.node("tb-w1"))
        }
        #expect(try await store.count(Node.self, .all) == 1)
    }

    @Test("the change marker moves on every write, from this store or another process's; MongoDB cannot tell",
          arguments: StoreBackend.available)
    func changeMarker(backend: StoreBackend) async throws {
        let location = backend.freshLocation()
        let store = try await StoreLocation(parsing: location).open()
        let first = try await store.changeMarker()
        guard backend == .sqlite else {
            #expect(first == nil)
            return
        }
        #expect(first != nil)
        #expect(try await store.changeMarker() == first)
        let pool = try await store.insert(Fixtures.pool())
        let afterOwnWrite = try await store.changeMarker()
        #expect(afterOwnWrite != first)
        // Another connection stands for another defpi process on the same file.
        let other = try await StoreLocation(parsing: location).open()
        _ = try await other.delete(NodePool.self, id: pool.id, revision: nil)
        let afterOtherWrite = try await store.changeMarker()
        #expect(afterOtherWrite != afterOwnWrite)
        _ = try await other.fetch(NodePool.self, id: pool.id)
        #expect(try await store.changeMarker() == afterOtherWrite)
    }

    // MARK: Optimistic versioning

    @Test("a write based on a stale revision fails with a typed conflict", arguments: StoreBackend.available)
    func staleWritesConflict(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let original = try await store.insert(Fixtures.process(user: "u1"))
        var first = original
        first.state = .running
        _ = try await store.update(first)

        var stale = original
        stale.name = "lost update"
        await #expect(throws: StoreError.conflict(.process, id: original.id, expectedRevision: 1, storedRevision: 2)) {
            try await store.update(stale)
        }
        await #expect(throws: StoreError.conflict(.process, id: original.id, expectedRevision: 1, storedRevision: 2)) {
            try await store.delete(ServiceProcess.self, id: original.id, revision: 1)
        }
        #expect(try await store.fetch(ServiceProcess.self, id: original.id)?.name == original.name)

        let missing = Fixtures.process(user: "u1").atRevision(1)
        await #expect(throws: StoreError.notFound(.process, id: missing.id)) {
            try await store.update(missing)
        }
    }

    // MARK: Queries

    @Test("the managers' queries: by owner, token, endpoint, Docker id, resource", arguments: StoreBackend.available)
    func managerQueries(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        var processes: [ServiceProcess] = []
        for index in 0..<12 {
            processes.append(try await store.insert(Fixtures.process(user: "user-\(index % 3)", name: "p\(index)")))
        }
        let mine = try await store.all(ServiceProcess.self, .where("userId", is: "user-1"))
        #expect(Set(mine.map(\.name)) == ["p1", "p4", "p7", "p10"])

        let byToken = try await store.first(ServiceProcess.self, .where("token", is: processes[5].token))
        #expect(byToken?.id == processes[5].id)
        #expect(try await store.first(ServiceProcess.self, .where("dockerId", is: "svc-p3"))?.id == processes[3].id)

        let a = try await store.insert(Fixtures.connection(processes[0].id, processes[1].id))
        let b = try await store.insert(Fixtures.connection(processes[2].id, processes[0].id))
        _ = try await store.insert(Fixtures.connection(processes[1].id, processes[2].id))
        let ofFirst = try await store.all(Connection.self, .or([
            .where("endpoint1.processId", is: processes[0].id), .where("endpoint2.processId", is: processes[0].id),
        ]))
        #expect(Set(ofFirst.map(\.id)) == [a.id, b.id])

        let node = try await store.insert(Fixtures.node("tb-w2"))
        #expect(try await store.first(Node.self, .where("dockerId", is: "docker-tb-w2"))?.id == node.id)
        #expect(try await store.count(Node.self, .where("kind", is: NodeKind.public.rawValue)) == 1)

        let change = try await store.insert(Fixtures.change([processes[4].id, "user-1"]))
        _ = try await store.insert(Fixtures.change([processes[5].id]))
        #expect(try await store.all(PendingChange.self, .contains("resources", .string(processes[4].id))).map(\.id) == [change.id])

        let ids = [processes[0].id, processes[2].id, "missing"]
        #expect(Set(try await store.all(ServiceProcess.self, .isIn("id", ids.map(StoreValue.string))).map(\.id)) == [processes[0].id, processes[2].id])
        #expect(try await store.count(ServiceProcess.self, .isNull("privateNodeId")) == 12)
        #expect(try await store.count(ServiceProcess.self, .not(.where("userId", is: "user-0"))) == 8)
    }

    @Test("listing sorts, pages and counts the matches before paging", arguments: StoreBackend.available)
    func sortingAndPaging(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        for index in 0..<25 {
            var change = Fixtures.change(["r\(index)"], runAt: Fixtures.epoch.addingTimeInterval(Double(index)))
            change.description = String(format: "change %02d", index)
            _ = try await store.insert(change)
        }
        let page = try await store.list(PendingChange.self, StoreQuery(
            filter: .greaterThan("runAt", .date(Fixtures.epoch.addingTimeInterval(4.5))),
            sort: [StoreSort("description", ascending: false)], offset: 5, limit: 10))
        #expect(page.total == 20)
        #expect(page.items.map(\.description) == (10...19).reversed().map { String(format: "change %02d", $0) })

        let early = try await store.list(PendingChange.self, StoreQuery(
            filter: .lessThan("runAt", .date(Fixtures.epoch.addingTimeInterval(3))), sort: [StoreSort("runAt")]))
        #expect(early.items.map(\.description) == ["change 00", "change 01", "change 02"])
        #expect(early.total == 3)

        let beyond = try await store.list(PendingChange.self, StoreQuery(offset: 30, limit: 10))
        #expect(beyond.items.isEmpty && beyond.total == 25)
    }
}

extension NodePool {
    func withID(_ id: String) -> NodePool {
        var copy = self
        copy.id = id
        return copy
    }
}
