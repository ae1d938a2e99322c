import DefpiAPI
import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// Crash safety of the lifecycle, shown by killing: `defpi process create` and `upgrade` are
/// SIGKILLed at random points inside their steps (deploying: network, gateway, swarm service,
/// record; relocating: suspend, state saved, service updated), then two engines work the queue:
/// every process exists once, with one swarm service, RUNNING at the version it was asked for,
/// no change left open, none finished twice, no orphan service. Then every verb of the
/// lifecycle is killed at each of its named crash points (`DEFPI_CRASH_AT`), and converges the same.
@Suite("Process crash safety", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct ProcessCrashTests {
    @Test("creates and upgrades killed at random points converge on two engines, with nothing lost, doubled or orphaned")
    func killedLifecycle() async throws {
        let worker = TestBed.processNodes[1]
        // Short leases, so the engine that converges takes the killed ones over quickly.
        let bed = try await MeterBed(versions: ["1.0.0", "1.1.0"], shortLeases: true)
        try await bed.classifyForAlice([worker])

        try await SwarmGateway.turn {
            var generator = SystemRandomNumberGenerator()
            var killed: [String] = []
            let observer = try await bed.makeEngine().store
            /// Runs `arguments` until its change is being carried out (leased), then kills it at a
            /// random point within `milliseconds` of that; returns whether the kill left a change
            /// open (a verb that ended first, or never queued anything, shows nothing).
            func killSomewhere(_ arguments: [String], within milliseconds: Int) async throws -> Bool {
                func openChanges() async throws -> [PendingChange] {
                    try await observer.all(PendingChange.self, .isIn("state", PendingChangeState.open.map { .string($0.rawValue) }))
                }
                let before = Set(try await openChanges().map(\.id))
                let child = try DefpiCommand.spawn(arguments, environment: bed.environment)
                _ = await eventually(timeout: .seconds(20)) {
                    let leased = (try? await openChanges())?.contains { !before.contains($0.id) && $0.leaseOwner != nil } ?? false
                    return leased || !child.isRunning
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...milliseconds, using: &generator)))
                child.kill()
                _ = await child.exited()
                let midWay = try await openChanges().contains { !before.contains($0.id) }
                if midWay { killed.append(arguments.prefix(3).joined(separator: " ")) }
                return midWay
            }
            // Creates until three were killed mid-way, at most ten; then upgrades of them until two
            // were, at most eight.
            var created = 0, creationsKilled = 0
            while created < 10 && creationsKilled < 3 {
                if try await killSomewhere(["process", "create", "meter:1.0.0", "--user", "alice", "--node", worker,
                                            "--name", "c\(created)"], within: 1_500) { creationsKilled += 1 }
                created += 1
            }
            // Each upgrade is of a stored process with no relocation under way yet (one killed
            // before it was stored cannot be upgraded; one being relocated refuses another).
            var upgrades = 0, upgradesKilled = 0
            while upgrades < 8 && upgradesKilled < 2 {
                let candidates = try await observer.all(ServiceProcess.self).filter { $0.relocation == nil && $0.serviceVersion == "1.0.0" }
                    .map(\.name).sorted()
                guard let name = candidates.first else { break }
                if try await killSomewhere(["process", "upgrade", name, "--version", "1.1.0"], within: 3_000) { upgradesKilled += 1 }
                upgrades += 1
            }

            // Two engines on the store, as two consoles or servers run them, work the one queue
            // (none may run a step twice); the first also answers the trigger.
            let engine = try await bed.makeEngine(), second = try await bed.makeEngine()
            let api = Task { await EngineAPI(engine: engine).serveWhenFree(unixSocket: engine.settings.gateway.engineSocket, logger: .init(label: "test")) }
            let background = [Task { await engine.run() }, Task { await second.run() }]
            defer {
                api.cancel()
                for task in background { task.cancel() }
            }
            let store = engine.store
            let converged = await eventually(timeout: .seconds(180)) {
                let open = (try? await store.count(PendingChange.self, .isIn("state", PendingChangeState.open.map { .string($0.rawValue) }))) ?? 1
                let processes = (try? await store.all(ServiceProcess.self)) ?? []
                return open == 0 && processes.allSatisfy { $0.state == .running && $0.relocation == nil }
            }
            let processes = try await store.all(ServiceProcess.self)
            let changes = try await store.all(PendingChange.self)
            #expect(converged, "\(processes.map { "\($0.name) \($0.state.rawValue) \($0.problem ?? "")" }) \(changes.filter { !$0.state.isTerminal }.map(\.description))")
            #expect(changes.allSatisfy { $0.state == .finished }, "\(changes.map { "\($0.description): \($0.state) \($0.lastError ?? "")" })")
            #expect(Set(processes.map(\.name)).count == processes.count, "a process was created twice")
            let upgraded = Set(changes.filter { $0.type.rawValue == "RELOCATE_PROCESS" }.flatMap(\.resources))
            for process in processes {
                #expect(process.serviceVersion == (upgraded.contains(process.id) ? "1.1.0" : "1.0.0"), "\(process.name)")
                // An upgraded meter resumed from the counter it saved, or the audit says its state was lost
                // (killed once it had suspended, before the answer was stored).
                if upgraded.contains(process.id) {
                    let lost = try await engine.processes.history(process.id, by: .localOperator()).contains { $0.action == "process.state-lost" }
                    let resumed = try await Self.resumedReadings(of: process.name, bed: bed)
                    #expect(lost || resumed.contains { $0 > 0 }, "\(process.name) was upgraded but neither resumed from its counter nor said it was lost: \(resumed)")
                }
                let service = try await engine.docker.service(process.id)
                #expect(service?.spec.labels["org.defpi.service"] == "meter:\(process.serviceVersion)", "\(process.name)")
            }
            // No swarm service of a process that does not exist.
            #expect(Set(try await bed.processServices().map(\.spec.name)) == Set(processes.map(\.id)))
            let finishes = try await store.all(AuditEvent.self, .where("action", is: "change.finished")).compactMap(\.changeId)
            #expect(finishes.count == Set(finishes).count, "a change finished twice")
            print("process crash test: \(processes.count) processes, \(killed.count) verbs killed mid-way (\(killed)); converged: \(converged)")
            #expect(creationsKilled >= 3 && upgradesKilled >= 2, "only \(killed) were killed mid-way; the test showed little")

            for process in processes {
                _ = try await engine.queue.settle(try await engine.processes.terminate(process.id, by: .localOperator()).id, timeout: .seconds(30))
            }
            #expect(try await bed.processServices().isEmpty)
            try? await engine.docker.removeService(GatewayManager.serviceName)
            try? await Task.sleep(for: .seconds(2))
            try? await engine.docker.removeNetwork("usernet-\(try await engine.users.user("alice", by: .localOperator()).id)")
        }
    }

    @Test("every lifecycle step killed at its named crash point converges: create, upgrade, move (also with a connection), configure, connect, disconnect, terminate")
    func pinnedKills() async throws {
        let (manager, worker) = (TestBed.processNodes[0], TestBed.processNodes[1])
        let bed = try await MeterBed(versions: ["1.0.0", "1.1.0"], shortLeases: true, alsoPublish: [.aggregator], autoConnect: false)
        func defpi(_ arguments: [String], crashAt point: CrashPoint? = nil) async throws -> DefpiCommand.Result {
            try await bed.defpi(arguments, extra: ["DEFPI_CRASH_AT": point?.rawValue ?? ""])
        }
        try await bed.classifyForAlice([worker, manager])

        try await SwarmGateway.turn {
            var table: [String] = []
            /// Runs a verb that must die at `point`.
            func kill(_ arguments: String..., at point: CrashPoint) async throws {
                let result = try await defpi(arguments, crashAt: point)
                #expect(result.status == 128 + SIGKILL, "\(arguments) did not reach \(point.rawValue): \(result.stderr)")
                table.append("\(point.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)) \(arguments.prefix(3).joined(separator: " "))")
            }
            /// One engine works the queue and answers the trigger until `done` holds and nothing is
            /// open; then the common checks: no change failed or finished twice, one swarm service
            /// per process and none more.
            func converge(_ what: String, until done: @escaping @Sendable ([ServiceProcess], [Connection]) -> Bool) async throws {
                let engine = try await bed.makeEngine()
                let api = Task {
                    await EngineAPI(engine: engine).serveWhenFree(unixSocket: engine.settings.gateway.engineSocket, logger: .init(label: "test"))
                }
                let background = Task { await engine.run() }
                let store = engine.store
                let started = ContinuousClock.now
                let converged = await eventually(timeout: .seconds(90)) {
                    let open = (try? await store.count(PendingChange.self, .isIn("state", PendingChangeState.open.map { .string($0.rawValue) }))) ?? 1
                    let processes = (try? await store.all(ServiceProcess.self)) ?? []
                    let connections = (try? await store.all(Connection.self)) ?? []
                    return open == 0 && done(processes, connections)
                }
                let processes = try await store.all(ServiceProcess.self)
                let changes = try await store.all(PendingChange.self)
                #expect(converged, "\(what): \(processes.map { "\($0.name) \($0.state.rawValue) \($0.serviceVersion) \($0.problem ?? "")" }) \(changes.filter { !$0.state.isTerminal }.map(\.description))")
                #expect(changes.allSatisfy { $0.state == .finished }, "\(what): \(changes.map { "\($0.description): \($0.state) \($0.lastError ?? "")" })")
                let finishes = try await store.all(AuditEvent.self, .where("action", is: "change.finished")).compactMap(\.changeId)
                #expect(finishes.count == Set(finishes).count, "\(what): a change finished twice")
                #expect(Set(try await bed.processServices().map(\.spec.name)) == Set(processes.map(\.id)),
                        "\(what): orphaned or missing swarm services")
                table.append("  → \(what): converged in \(started.duration(to: .now).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))")
                api.cancel()
                background.cancel()
                await background.value
                await api.value
            }
            @Sendable func process(_ name: String, in processes: [ServiceProcess]) -> ServiceProcess? { processes.first { $0.name == name } }
            let docker = DockerClient(endpoint: try #require(TestBed.dockerEndpoint))
            let managerId = try #require(try await docker.nodes().first { $0.description.hostname == manager }?.id)

            // Killed once its quota share is claimed: nothing is stored, and the claim left counts
            // for a minute at most; alice's quota of three still takes the two creations below.
            #expect(try await defpi(["user", "quota", "alice", "--processes", "3"]).status == 0)
            try await kill("process", "create", "meter:1.0.0", "--user", "alice", "--node", worker, "--name", "k0", at: .createQuotaClaimed)
            try await kill("process", "create", "meter:1.0.0", "--user", "alice", "--node", worker, "--name", "k1", at: .deployNetworkReady)
            try await kill("process", "create", "meter:1.0.0", "--user", "alice", "--node", worker, "--name", "k2", at: .deployServiceCreated)
            try await converge("two creates") { processes, _ in
                processes.count == 2 && processes.allSatisfy { $0.state == .running && $0.dockerId != nil }
            }
            let afterClaim = try await bed.makeEngine().store
            #expect(try await afterClaim.all(ServiceProcess.self).map(\.name).sorted() == ["k1", "k2"], "the killed k0 was stored")
            let claims = try await afterClaim.all(UserQuota.self).flatMap(\.claims)
            #expect(claims.count == 1 && claims.allSatisfy { Date().timeIntervalSince($0.at) < 60 }, "\(claims)")
            #expect(try await defpi(["user", "quota", "alice", "--processes", "0"]).status == 0)
            try await Task.sleep(for: .seconds(1))  // Some readings to carry over.
            try await kill("process", "upgrade", "k1", "--version", "1.1.0", at: .relocateSuspended)
            try await kill("process", "move", "k2", "--node", manager, at: .relocateReplaced)
            // Both were killed once their state was saved: each resumes from exactly that counter.
            var saved: [String: Int] = [:]
            for name in ["k1", "k2"] {
                let stored = try await bed.makeEngine().processes.process(name, by: .localOperator())
                let state = try #require(stored.suspendedState, "\(name): killed after suspending, yet no state is saved")
                saved[name] = try #require((try JSONSerialization.jsonObject(with: state) as? [String: Any])?["counter"] as? Int)
            }
            try await converge("an upgrade and a move") { processes, _ in
                process("k1", in: processes)?.serviceVersion == "1.1.0" && process("k1", in: processes)?.state == .running
                    && process("k2", in: processes).map { $0.state == .running && $0.relocation == nil } == true
            }
            for (name, counter) in saved {
                let resumed = try await Self.resumedReadings(of: name, bed: bed)
                #expect(counter > 0 && resumed.contains(counter), "\(name) saved counter \(counter), resumed from \(resumed)")
            }
            // A move cancelled before it ran, killed before it was taken back: the re-sync takes it
            // back, and k2 stays where it runs.
            let queuedMove = try await defpi(["process", "move", "k2", "--node", worker, "--detach"])
            let moveId = try #require(queuedMove.stdout.split(separator: "(change ").last.map { String($0.prefix { $0 != ")" }) }, "\(queuedMove.stdout)")
            try await kill("change", "cancel", moveId, at: .changeAbandoned)
            #expect(try await bed.makeEngine().processes.process("k2", by: .localOperator()).relocation != nil,
                    "the cancel was killed after the move was taken back")
            #expect(try await defpi(["change", "dismiss", moveId]).status == 0)
            try await converge("a move cancelled") { processes, _ in
                process("k2", in: processes).map { $0.state == .running && $0.relocation == nil && $0.runningNodeId != nil } == true
            }
            let shown = try await defpi(["process", "show", "k2", "-o", "json"]).stdout
            let moved = try #require((try? JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: Any])?["id"] as? String)
            #expect(try await docker.service(moved)?.spec.taskTemplate.placement?.constraints == ["node.id == \(managerId)"])
            try await kill("process", "config", "k1", "-e", "INTERVAL=0.5", at: .configureSent)
            try await converge("a configuration") { processes, _ in
                guard let k1 = process("k1", in: processes) else { return false }
                return k1.pendingConfiguration == nil && k1.configuration.contains(ProcessParameter(key: "INTERVAL", value: "0.5"))
            }

            // A connection killed once stored, before it is confirmed: never told. Tried again once
            // no creation can still be running (10 s and the bed's 1 s clock skew), the leftover is
            // removed and the connection made.
            #expect(try await defpi(["process", "create", "aggregator", "--user", "alice", "--node", worker, "--name", "g1"]).status == 0)
            try await kill("connection", "create", "k1.readings", "g1.readings-in", at: .connectInserted)
            let leftover = try await bed.makeEngine().store.all(Connection.self)
            #expect(leftover.map(\.provisional) == [true])
            try await Task.sleep(for: .seconds(12))
            let again = try await defpi(["connection", "create", "k1.readings", "g1.readings-in", "--detach"])
            #expect(again.status == 0, "\(again.stderr)")
            try await converge("a connection never confirmed, made again") { _, connections in
                connections.count == 1 && connections[0].state == .connected && !leftover.map(\.id).contains(connections[0].id)
            }
            let remade = try #require(try await bed.makeEngine().store.all(Connection.self).first)
            #expect(try await defpi(["connection", "rm", remade.id]).status == 0)

            // A connection made and removed, each killed once one side has been told.
            try await kill("connection", "create", "k1.readings", "g1.readings-in", at: .connectTold)
            try await converge("a connection") { _, connections in
                connections.count == 1 && connections[0].state == .connected
            }
            // A connected process moved, killed once its connections and it are suspended: after the
            // move both sides are told again and the connection is back.
            try await kill("process", "move", "k1", "--node", manager, at: .relocateSuspended)
            let killedWith = try #require(try await bed.makeEngine().store.all(Connection.self).first)
            #expect(killedWith.state == .suspended, "the move was killed before the connection was suspended")
            let suspendedAt = try #require(killedWith.endpoints.compactMap(\.reported).max())
            try await converge("a move with a connection") { processes, connections in
                guard let k1 = process("k1", in: processes), k1.state == .running, k1.relocation == nil,
                      connections.count == 1 else { return false }
                return connections[0].state == .connected && connections[0].endpoints.allSatisfy { ($0.reported ?? .distantPast) > suspendedAt }
            }
            let connection = try #require(try await bed.makeEngine().store.all(Connection.self).first)
            try await kill("connection", "rm", connection.id, at: .disconnectTold)
            try await converge("a removal") { _, connections in connections.isEmpty }

            try await kill("process", "rm", "k1", at: .terminateTold)
            try await kill("process", "rm", "k2", at: .terminateServiceRemoved)
            #expect(try await defpi(["process", "rm", "g1"]).status == 0)
            try await converge("two terminations") { processes, _ in processes.isEmpty }
            print("pinned crash points (point, verb killed there, then how it converged):\n" + table.joined(separator: "\n"))
            // Every point of the process lifecycle (the node label step's is pinned in QueueCrashTests).
            let lifecycle = CrashPoint.allCases.filter { $0 != .labelsWritten }
            #expect(Set(lifecycle.map(\.rawValue)).isSubset(of: Set(table.compactMap { $0.split(separator: " ").first.map(String.init) })),
                    "a crash point was not exercised")
            try? await docker.removeService(GatewayManager.serviceName)
        }
    }

    /// The readings a meter's starts resumed from, as its log says ("runs from reading N").
    static func resumedReadings(of name: String, bed: MeterBed) async throws -> [Int] {
        let output = try await bed.defpi("process", "logs", name, "--tail", "5000").stdout
        return output.split(separator: "\n").compactMap { line in
            line.split(separator: "runs from reading ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
        }
    }
}
