import DefpiTesting
import Foundation
import Testing

@testable import Console
@testable import Engine

/// The console's loader reads only what a notification says changed.
@Suite("Console loading", .timeLimit(.minutes(2)))
struct TopologySnapshotTests {
    @Test("a node notification re-reads the nodes, not the processes; a full refresh reads everything once")
    func readsOnlyStaleCollections() async throws {
        let store = FaultyStore(try await StoreBackend.sqlite.makeStore())
        let engine = try Fixtures.offlineEngine(on: store)
        let user = try await store.insert(Fixtures.user())
        for index in 0..<50 { _ = try await store.insert(Fixtures.process(user: user.id, name: "meter-\(index)")) }
        _ = try await store.insert(Fixtures.node())

        var snapshot = TopologySnapshot()
        try await snapshot.refresh(TopologySnapshot.collections, from: engine, as: .localOperator())
        #expect(snapshot.processes.count == 50 && snapshot.nodes.count == 1)
        #expect(store.calls(of: .list(.process)) == 1)

        _ = try await store.insert(Fixtures.node("tb-w2"))
        try await snapshot.refresh([.node], from: engine, as: .localOperator())
        #expect(snapshot.nodes.count == 2)
        #expect(store.calls(of: .list(.process)) == 1, "a node change re-read the processes")
        let (_, rows) = snapshot.rows(catalog: nil, now: Date())
        #expect(rows[.processes]?.count == 50 && rows[.nodes]?.count == 2)
    }
}
