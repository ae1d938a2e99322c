import DefpiTesting
import Engine
import Foundation
import Testing

/// `defpi change ...` on a store seeded with changes in every interesting state.
@Suite("Change commands", .timeLimit(.minutes(5)))
struct ChangeCommandTests {
    let location = StoreBackend.sqlite.freshLocation()

    func defpi(_ arguments: String...) async throws -> DefpiCommand.Result {
        try await DefpiCommand.run(arguments, environment: ["DEFPI_STORE": location, "DOCKER_HOST": "unix:///nonexistent"])
    }

    func ids(_ json: String) throws -> [String] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]).compactMap { $0["id"] as? String }
    }

    @Test("list with filters and JSON, show, cancel, retry and dismiss; refusals say why and change nothing")
    func steerTheQueue() async throws {
        let store = try await StoreLocation(parsing: location).open()
        let node = ObjectID.generate()
        let labels = try await store.enqueue(PendingChange(
            type: "NODE_LABELS", description: "node w1: public in pool edge", resources: [node], createdBy: "alice",
            created: Date() - 30, payload: .object(["nodeId": .string(node)])))
        var failed = PendingChange(type: "NODE_LABELS", description: "node w2: private to bob", resources: [ObjectID.generate()],
                                   lastError: "node w2 has left the swarm", createdBy: "alice", created: Date() - 20)
        failed.state = .failedPermanently
        failed = try await store.insert(failed)
        let future = try await store.enqueue(PendingChange(type: "FROM_A_NEWER_DEFPI", description: "something new",
                                                           resources: ["x"], createdBy: "bob", created: Date() - 10))

        let all = try await defpi("change", "ls", "-o", "json")
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try ids(all.stdout) == [future.id, failed.id, labels.id])
        #expect(try ids(try await defpi("change", "ls", "--state", "failed_permanently", "-o", "json").stdout) == [failed.id])
        #expect(try ids(try await defpi("change", "ls", "--kind", "node_labels", "-o", "json").stdout) == [failed.id, labels.id])
        #expect(try ids(try await defpi("change", "ls", "--resource", node, "-o", "json").stdout) == [labels.id])
        #expect(try ids(try await defpi("change", "ls", "--limit", "1", "--offset", "1", "-o", "json").stdout) == [failed.id])
        let table = try await defpi("change", "ls", "--limit", "2")
        #expect(table.stdout.hasPrefix("ID ") && table.stdout.contains("(1-2 of 3; --offset 2 for more)"))
        let badState = try await defpi("change", "ls", "--state", "sleeping")
        #expect(badState.status != 0 && badState.stderr.contains("unknown state sleeping"))

        let shown = try await defpi("change", "show", failed.id)
        #expect(shown.stdout.contains("FAILED_PERMANENTLY") && shown.stdout.contains("node w2 has left the swarm"))

        let cancelled = try await defpi("change", "cancel", labels.id)
        #expect(cancelled.status == 0 && cancelled.stdout == "cancelled: node w1: public in pool edge\n")
        let again = try await defpi("change", "cancel", labels.id)
        #expect(again.status == 1)
        #expect(again.stderr == "defpi: change \(labels.id) is CANCELLED; only a change that has not started (NEW or FAILED_TEMPORARY) can be cancelled\n")
        let stored = try #require(try await store.fetch(PendingChange.self, id: labels.id))
        #expect(stored.state == .cancelled && stored.lastError?.hasPrefix("cancelled by ") == true)

        let notDismissable = try await defpi("change", "dismiss", future.id)
        #expect(notDismissable.status == 1 && notDismissable.stderr.contains("only a change that failed for good"))
        #expect(try await defpi("change", "dismiss", failed.id).status == 0)
        let gone = try await defpi("change", "show", failed.id)
        #expect(gone.status == 1 && gone.stderr == "defpi: no pending change \(failed.id); `defpi change ls` lists them\n")

        let retried = try await defpi("change", "retry", future.id, "--detach")
        #expect(retried.status == 0 && retried.stdout.hasPrefix("queued: something new"))
        let unknown = try #require(try await store.fetch(PendingChange.self, id: future.id))
        #expect(unknown.state == .new && unknown.count == 0)
        let history = try await store.all(AuditEvent.self).map(\.action)
        #expect(history.contains("change.cancelled") && history.contains("change.dismissed") && history.contains("change.retried"))
    }
}
