import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// Every test that classifies, pauses or stops the test bed's worker nodes, run one at a time.
@Suite("Swarm nodes", .serialized, .enabled(if: TestBed.hasSwarm), .timeLimit(.minutes(2)))
enum SwarmNodeTests {}

extension SwarmNodeTests {
/// The NodeManager against the test bed's swarm.
@Suite("Node manager", .timeLimit(.minutes(10)))
struct NodeManagerTests {
    let storePath = TemporaryDirectory.make().path + "/defpi.sqlite"

    func makeEngine() async throws -> Engine {
        try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: storePath),
            docker: try #require(TestBed.dockerEndpoint, "the test bed's swarm is not up"),
            registry: RegistrySettings(url: TestBed.registryURL ?? RegistrySettings.defaultURL),
            resyncInterval: .seconds(30)))
    }

    var workers: [String] { TestBed.nodeTestWorkers }

    func dockerLabels(_ engine: Engine, _ hostname: String) async throws -> [String: String] {
        let node = try await engine.nodes.node(hostname, by: .localOperator())
        return try await engine.docker.node(node.dockerId).spec.labels.filter { $0.key.hasPrefix("org.defpi.") }
    }

    @Test("a sync makes every swarm node an unidentified node with Docker's facts")
    func sync() async throws {
        // No node may stop between the two looks.
        try await SwarmNodes.turn { () async throws in
        let engine = try await makeEngine()
        let summary = try await engine.nodes.sync()
        #expect(summary.added == TestBed.nodeNames.count)
        let nodes = try await engine.nodes.nodes(by: .localOperator())
        #expect(Set(nodes.map(\.hostname)) == Set(TestBed.nodeNames))
        #expect(nodes.allSatisfy { $0.kind == .unidentified && $0.name == $0.hostname && $0.lastSync != nil })
        #expect(nodes.allSatisfy { $0.status == .ready && $0.architecture != .unknown })
        #expect(nodes.filter { $0.role == .manager }.map(\.hostname) == [TestBed.nodeNames[0]])
        // A second sync adds and loses nothing (other tests may change facts and labels meanwhile).
        let again = try await engine.nodes.sync()
        #expect(again.added == 0 && again.missing == 0 && again.removed == 0)
        }
    }

    @Test("a classified node gone from the swarm becomes missing; an unidentified one is removed")
    func goneFromSwarm() async throws {
        let engine = try await makeEngine()
        try await engine.nodes.sync()
        let pool = try await engine.pools.create(named: "old", by: .localOperator())
        let classified = try await engine.store.insert(Node(
            kind: .public, dockerId: "left-the-swarm-1", hostname: "old-1", status: .ready, nodePoolId: pool.id))
        let unidentified = try await engine.store.insert(Node(dockerId: "left-the-swarm-2", hostname: "old-2"))
        let summary = try await engine.nodes.sync()
        #expect(summary.missing == 1 && summary.removed == 1)
        #expect(try await engine.nodes.node(classified.id, by: .localOperator()).status == .missing)
        #expect(try await engine.store.fetch(Node.self, id: unidentified.id) == nil)
    }

    @Test("classification is stored, written as org.defpi.* labels, and survives an Engine restart")
    func classify() async throws {
        let engine = try await makeEngine()
        try await engine.nodes.sync()
        let admin = Caller.localOperator(name: "test-admin")
        let pool = try await engine.pools.create(named: "edge", by: admin)
        let alice = try await engine.store.insert(User(username: "alice"))

        let publicChange = try await engine.nodes.classifyPublic(workers[0], pool: "edge", by: admin)
        #expect(try await engine.queue.settle(publicChange.id, timeout: .seconds(20)).state == .finished)
        let privateChange = try await engine.nodes.classifyPrivate(workers[1], owner: "alice", name: "lab", by: admin)
        #expect(try await engine.queue.settle(privateChange.id, timeout: .seconds(20)).state == .finished)

        #expect(try await dockerLabels(engine, workers[0]) == [
            "org.defpi.class": "public", "org.defpi.pool": pool.id, "org.defpi.name": workers[0],
            "org.defpi.store": engine.store.identity,
        ])
        #expect(try await dockerLabels(engine, "lab") == [
            "org.defpi.class": "private", "org.defpi.owner": alice.id, "org.defpi.name": "lab",
            "org.defpi.store": engine.store.identity,
        ])

        let restarted = try await makeEngine()
        try await restarted.nodes.sync()
        let first = try await restarted.nodes.node(workers[0], by: .localOperator())
        #expect(first.kind == .public && first.nodePoolId == pool.id)
        let second = try await restarted.nodes.node(workers[1], by: .localOperator())
        #expect(second.kind == .private && second.userId == alice.id && second.name == "lab")

        let audit = try await restarted.store.all(AuditEvent.self)
        #expect(audit.filter { $0.action == "node.classified" && $0.actor == "test-admin" }.count == 2)
        #expect(audit.filter { $0.action == "change.finished" }.count == 2)

        for worker in [workers[0], "lab"] {
            let change = try await restarted.nodes.declassify(worker, by: admin)
            #expect(try await restarted.queue.settle(change.id, timeout: .seconds(20)).state == .finished)
        }
        #expect(try await dockerLabels(restarted, workers[0]).isEmpty)
        #expect(try await dockerLabels(restarted, "lab").isEmpty)
    }

    @Test("names, pools and permissions are checked before anything changes")
    func rules() async throws {
        let engine = try await makeEngine()
        try await engine.nodes.sync()
        let admin = Caller.localOperator()
        try await engine.pools.create(named: "alpha", by: admin)
        try await engine.pools.create(named: "beta", by: admin)
        await #expect(throws: NodeError.poolNameTaken("Alpha")) { try await engine.pools.create(named: "Alpha", by: admin) }
        await #expect(throws: NodeError.invalidPoolName(" ")) { try await engine.pools.create(named: " ", by: admin) }

        let user = Caller(user: User(username: "bob"))
        await #expect(throws: AuthorizationError.adminOnly(action: "classify nodes", caller: "bob")) {
            try await engine.nodes.classifyPublic(workers[0], pool: "alpha", by: user)
        }
        await #expect(throws: LookupError.notFound(what: "pool", reference: "gamma")) {
            try await engine.nodes.classifyPublic(workers[0], pool: "gamma", by: admin)
        }
        await #expect(throws: LookupError.notFound(what: "user", reference: "nobody")) {
            try await engine.nodes.classifyPrivate(workers[0], owner: "nobody", by: admin)
        }
        await #expect(throws: NodeError.nameTaken(name: workers[1], by: try await engine.nodes.node(workers[1], by: .localOperator()).dockerId)) {
            try await engine.nodes.rename(workers[0], to: workers[1], by: admin)
        }
        #expect(try await engine.nodes.node(workers[0], by: .localOperator()).kind == .unidentified)

        for change in [try await engine.nodes.classifyPublic(workers[0], pool: "alpha", by: admin)] {
            _ = try await engine.queue.settle(change.id, timeout: .seconds(20))
        }
        await #expect(throws: NodeError.poolNotEmpty(pool: "alpha", nodes: [workers[0]])) {
            try await engine.pools.delete("alpha", by: admin)
        }
        for move in try await engine.pools.delete("alpha", moveTo: "beta", by: admin) {
            #expect(try await engine.queue.settle(move.id, timeout: .seconds(20)).state == .finished)
        }
        let beta = try await engine.pools.pool("beta", by: .localOperator())
        #expect(try await engine.nodes.node(workers[0], by: .localOperator()).nodePoolId == beta.id)
        #expect(try await dockerLabels(engine, workers[0])["org.defpi.pool"] == beta.id)
        #expect(try await engine.pools.pools(by: .localOperator()).map(\.name) == ["beta"])

        let change = try await engine.nodes.declassify(workers[0], by: admin)
        _ = try await engine.queue.settle(change.id, timeout: .seconds(20))
    }

    @Test("a Docker node event updates the Engine's view within a second")
    func liveEvents() async throws {
        let engine = try await makeEngine()
        try await engine.nodes.sync()
        let running = Task { await engine.run() }
        defer { running.cancel() }
        let worker = try await engine.nodes.node(workers[1], by: .localOperator())
        try await setAvailability(engine, worker.dockerId, "pause")
        let started = ContinuousClock.now
        #expect(try await eventually(timeout: .seconds(1)) {
            try await engine.nodes.node(worker.id, by: .localOperator()).availability == .pause
        })
        let latency = ContinuousClock.now - started
        try await setAvailability(engine, worker.dockerId, "active")
        #expect(try await eventually(timeout: .seconds(1)) {
            try await engine.nodes.node(worker.id, by: .localOperator()).availability == .active
        })
        #expect(latency < .seconds(1))
    }

    @Test("a worker stopped with the test-bed script shows down, and ready again after a restart")
    func workerDownAndUp() async throws {
        try await SwarmNodes.turn { () async throws in
        let engine = try await makeEngine()
        try await engine.nodes.sync()
        let running = Task { await engine.run() }
        defer { running.cancel() }
        let hostname = workers[1]
        let bedName = String(hostname.split(separator: "-").last!)
        #expect(try await TestBed.script("stop-node", bedName, "--kill") == 0)
        var restarted = false
        defer { if !restarted { TestBed.restartNodeBlocking(bedName) } }
        #expect(try await eventually(timeout: .seconds(40)) {
            try await engine.nodes.node(hostname, by: .localOperator()).status == .down
        })
        #expect(try await TestBed.script("start-node", bedName) == 0)
        restarted = true
        #expect(try await eventually(timeout: .seconds(40)) {
            try await engine.nodes.node(hostname, by: .localOperator()).status == .ready
        })
        }
    }

    private func setAvailability(_ engine: Engine, _ dockerId: String, _ availability: String) async throws {
        let node = try await engine.docker.node(dockerId)
        var spec = node.spec
        spec.availability = availability
        try await engine.docker.updateNode(dockerId, version: node.version, spec: spec)
    }
}
}
