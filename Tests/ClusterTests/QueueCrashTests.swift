import DefpiTesting
@testable import Engine
import Foundation
import Testing

extension SwarmNodeTests {
/// Crash safety shown by killing: `defpi node classify` is SIGKILLed at random points, many
/// times, and an engine started afterwards converges with nothing lost, doubled or left leased.
@Suite("Queue crash safety", .timeLimit(.minutes(10)))
struct QueueCrashTests {
    var workers: [String] { TestBed.nodeTestWorkers }

    @Test("classifications killed at random points: intent and queue agree, and a restarted engine converges",
          arguments: StoreBackend.available)
    func killedClassifications(backend: StoreBackend) async throws {
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath, "the test bed's swarm is not up")
        let location = backend.freshLocation()
        let config = TemporaryDirectory.make().path + "/config.yaml"
        // Short leases, so the engine that converges takes the killed ones over quickly.
        try "queue:\n  leaseSeconds: 3\n  clockSkewSeconds: 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        let environment = ["DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": location, "DEFPI_CONFIG": config]
        for pool in ["east", "west"] {
            let created = try await DefpiCommand.run(["pool", "create", pool], environment: environment)
            #expect(created.status == 0, "\(created.stderr)")
        }
        let store = try await StoreLocation(parsing: location).open()
        @Sendable func openChanges() async throws -> Int {
            try await store.count(PendingChange.self, .isIn("state", PendingChangeState.open.map { .string($0.rawValue) }))
        }
        // Killed at its pinned point: the labels are on the node, the change not recorded finished.
        let pinned = try await DefpiCommand.run(["node", "classify", workers[0], "--pool", "west"],
                                                environment: environment.merging(["DEFPI_CRASH_AT": "node.labels-written"]) { _, new in new })
        #expect(pinned.status == 128 + SIGKILL, "the classification did not reach node.labels-written: \(pinned.stderr)")
        #expect(try await openChanges() == 1)

        // How long a classification takes from start to end here: the kills land within it, mostly
        // in its second half, where its change is queued and being carried out.
        let timed = ContinuousClock.now
        #expect(try await DefpiCommand.run(["node", "classify", workers[1], "--pool", "east"], environment: environment).status == 0)
        let whole = Int((ContinuousClock.now - timed) / .milliseconds(1))
        var generator = SystemRandomNumberGenerator()
        var killed = 0
        // At least 10 rounds, and until 5 of them were killed mid-way, at most 40. A kill counts
        // only when it left a change open (killed before queueing, or after settling, shows nothing).
        var round = 0
        while round < 40 && (round < 10 || killed < 5) {
            let worker = workers[round % workers.count]
            let before = try await openChanges()
            let child = try DefpiCommand.spawn(["node", "classify", worker, "--pool", round % 4 < 2 ? "west" : "east"],
                                               environment: environment)
            try await Task.sleep(for: .milliseconds(Int.random(in: (whole * 3 / 10)...max(whole * 3 / 10 + 1, whole), using: &generator)))
            child.kill()
            _ = await child.exited()
            if try await openChanges() > before { killed += 1 }
            round += 1
        }

        let engine = try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: location), docker: DockerEndpoint(unixSocketPath: socket),
            registry: RegistrySettings(), queue: QueueSettings(leaseDuration: .seconds(3), maximumClockSkew: .seconds(1))))
        // Before anything repairs drift: a node whose stored classification differs from its
        // Docker labels has a label write queued (the two were written together).
        for hostname in workers {
            let node = try await engine.nodes.node(hostname, by: .localOperator())
            let labels = try await engine.nodes.dockerLabels(of: node)
            if labels != Self.expectedLabels(node, store: store.identity) {
                let open = try await engine.queue.openChange(of: "NODE_LABELS", on: node.id, states: PendingChangeState.open)
                #expect(open != nil, "\(hostname) is classified \(node.kind) but Docker says \(labels), and nothing is queued")
            }
        }

        let running = Task { await engine.queue.run() }
        let drained = await eventually(timeout: .seconds(40)) {
            (try? await store.count(PendingChange.self, .isIn("state", PendingChangeState.open.map { .string($0.rawValue) }))) == 0
        }
        running.cancel()
        await running.value
        let open = try await store.all(PendingChange.self).filter { !$0.state.isTerminal }.map(\.description)
        #expect(drained, "changes still open: \(open)")
        for hostname in workers {
            let node = try await engine.nodes.node(hostname, by: .localOperator())
            #expect(try await engine.nodes.dockerLabels(of: node) == Self.expectedLabels(node, store: store.identity), "\(hostname)")
        }
        #expect(try await engine.nodes.sync().repaired == 0)
        let changes = try await store.all(PendingChange.self)
        #expect(changes.allSatisfy { $0.state == .finished }, "\(changes.map { "\($0.description): \($0.state)" })")
        let finishes = try await store.all(AuditEvent.self, .where("action", is: "change.finished")).compactMap(\.changeId)
        #expect(finishes.count == Set(finishes).count, "a change finished twice")
        // A worker killed between finishing a change and writing its audit record leaves no record.
        #expect(Set(finishes).isSubset(of: changes.map(\.id)))
        // Clean up for the other swarm tests.
        for hostname in workers { _ = try await engine.queue.settle(try await engine.nodes.declassify(hostname, by: .localOperator()).id, timeout: .seconds(20)) }
        print("queue crash test (\(backend)): \(killed) of \(round) kills left a change open, and one at node.labels-written")
        #expect(killed >= 5, "only \(killed) of \(round) rounds were killed mid-way; the test showed little")
    }

    @Test("labels changed behind defpi's back are repaired by the next sync")
    func driftRepaired() async throws {
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath, "the test bed's swarm is not up")
        let engine = try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: StoreBackend.sqlite.freshLocation()), docker: DockerEndpoint(unixSocketPath: socket),
            registry: RegistrySettings()))
        try await engine.nodes.sync()
        try await engine.pools.create(named: "drift", by: .localOperator())
        let worker = workers[0]
        _ = try await engine.queue.settle(try await engine.nodes.classifyPublic(worker, pool: "drift", by: .localOperator()).id,
                                          timeout: .seconds(20))
        let node = try await engine.nodes.node(worker, by: .localOperator())
        // Someone edits the labels with `docker node update`.
        let docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        let current = try await docker.node(node.dockerId)
        var spec = current.spec
        spec.labels = spec.labels.filter { !$0.key.hasPrefix("org.defpi.") }.merging(["org.defpi.class": "private"]) { $1 }
        try await docker.updateNode(node.dockerId, version: current.version, spec: spec)
        #expect(try await engine.nodes.sync().repaired == 1)
        #expect(try await engine.nodes.sync().repaired == 0, "a second sync queued the repair again")
        let repair = try #require(try await engine.queue.openChange(of: "NODE_LABELS", on: node.id))
        #expect(repair.createdBy == "defpi")
        #expect(try await engine.queue.settle(repair.id, timeout: .seconds(20)).state == .finished)
        #expect(try await engine.nodes.dockerLabels(of: node) == Self.expectedLabels(node, store: engine.store.identity))
        _ = try await engine.queue.settle(try await engine.nodes.declassify(worker, by: .localOperator()).id, timeout: .seconds(20))
    }

    @Test("two stores on one swarm never undo each other's labels, not even by a repair; classifying a node takes it over")
    func twoStores() async throws {
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath, "the test bed's swarm is not up")
        func engine() async throws -> Engine {
            let engine = try await Engine(settings: EngineSettings(
                store: try StoreLocation(parsing: StoreBackend.sqlite.freshLocation()),
                docker: DockerEndpoint(unixSocketPath: socket), registry: RegistrySettings()))
            try await engine.nodes.sync()
            try await engine.pools.create(named: "mine", by: .localOperator())
            return engine
        }
        let (first, second) = (try await engine(), try await engine())
        let worker = workers[0]
        func labels() async throws -> [String: String] {
            try await first.nodes.dockerLabels(of: try await first.nodes.node(worker, by: .localOperator()))
        }
        func settle(_ change: PendingChange, on engine: Engine) async throws {
            #expect(try await engine.queue.settle(change.id, timeout: .seconds(20)).state == .finished)
        }

        try await settle(try await first.nodes.classifyPublic(worker, pool: "mine", by: .localOperator()), on: first)
        let firsts = try await labels()
        #expect(firsts["org.defpi.store"] == first.store.identity)
        // The second store calls the node unidentified: the labels are the first's, not drift.
        var summary = try await second.nodes.sync()
        #expect(summary.repaired == 0 && summary.foreign.contains(worker))
        #expect(try await labels() == firsts)

        // The labels are wiped behind defpi's back: the first store queues a repair. Before it
        // runs, the second store takes the node over; the repair then leaves the node to it.
        let docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        let swarmNode = try await docker.node(try await first.nodes.node(worker, by: .localOperator()).dockerId)
        var spec = swarmNode.spec
        spec.labels = spec.labels.filter { !$0.key.hasPrefix("org.defpi.") }
        try await docker.updateNode(swarmNode.id, version: swarmNode.version, spec: spec)
        #expect(try await first.nodes.sync().repaired == 1)
        let repair = try #require(try await first.queue.openChange(of: "NODE_LABELS", on: try await first.nodes.node(worker, by: .localOperator()).id))
        try await settle(try await second.nodes.classifyPublic(worker, pool: "mine", by: .localOperator()), on: second)
        #expect(try await labels()["org.defpi.store"] == second.store.identity)
        try await settle(repair, on: first)
        #expect(try await labels()["org.defpi.store"] == second.store.identity, "a repair took the node over")
        summary = try await first.nodes.sync()
        #expect(summary.repaired == 0 && summary.foreign.contains(worker))
        // Declassifying it in the first store removes nothing of the second's.
        try await settle(try await first.nodes.declassify(worker, by: .localOperator()), on: first)
        #expect(try await labels()["org.defpi.store"] == second.store.identity)

        try await settle(try await second.nodes.declassify(worker, by: .localOperator()), on: second)
        #expect(try await labels().isEmpty)
        #expect(try await !first.nodes.sync().foreign.contains(worker))
    }

    static func expectedLabels(_ node: Node, store: String) -> [String: String] {
        guard node.kind != .unidentified else { return [:] }
        var labels = ["org.defpi.class": node.kind.rawValue.lowercased(), "org.defpi.name": node.name, "org.defpi.store": store]
        if let pool = node.nodePoolId { labels["org.defpi.pool"] = pool }
        if let owner = node.userId { labels["org.defpi.owner"] = owner }
        return labels
    }
}
}
