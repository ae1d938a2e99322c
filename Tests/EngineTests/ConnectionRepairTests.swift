import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// The periodic re-sync repairs what a lost change or a crash left: a running process's side
/// never told, or with an old unsettled report, is told again (once); a settled or fresh one is
/// left alone; a connection whose process is gone is removed, and so is a provisional one left
/// by a creation that stopped (once it is old), which is never told.
@Suite("Connection repair", .timeLimit(.minutes(3)))
struct ConnectionRepairTests {
    @Test("sides never told or long unsettled are told again, once; others are left alone; a connection to a gone process, or an old provisional one, is removed")
    func repair() async throws {
        let store = try await StoreBackend.sqlite.makeStore()
        let engine = try Fixtures.offlineEngine(on: store)
        let user = try await store.insert(Fixtures.user())
        func process(_ name: String, _ state: ProcessState) async throws -> ServiceProcess {
            var process = Fixtures.process(user: user.id, name: name)
            process.state = state
            return try await store.insert(process)
        }
        let (m1, m2, a1, idle) = (try await process("m1", .running), try await process("m2", .running),
                                  try await process("a1", .running), try await process("idle", .starting))
        let now = Date()
        func connect(_ first: ServiceProcess, _ firstState: EndpointState?, _ second: ServiceProcess, _ secondState: EndpointState?,
                     reported: Date, port: Int) async throws -> Connection {
            try await store.insert(Connection(
                endpoint1: Endpoint(processId: first.id, interfaceId: "meter/readings", interfaceVersionName: "v1",
                                    state: firstState, reported: firstState == nil ? nil : reported),
                endpoint2: Endpoint(processId: second.id, interfaceId: "aggregator/readings-in", interfaceVersionName: "v1",
                                    state: secondState, reported: secondState == nil ? nil : reported),
                port: port, userId: user.id, created: now.addingTimeInterval(-3600)))
        }
        let neverTold = try await connect(m1, nil, a1, .connected, reported: now, port: 5000)
        let longStarting = try await connect(m2, .starting, a1, .connected, reported: now.addingTimeInterval(-60), port: 5001)
        let settled = try await connect(m2, .connected, idle, nil, reported: now.addingTimeInterval(-60), port: 5002)
        let orphan = try await store.insert(Connection(
            endpoint1: Endpoint(processId: m1.id, interfaceId: "meter/status", state: .connected, reported: now),
            endpoint2: Endpoint(processId: "6b0fc7eadb89fb5433e4dfff", interfaceId: "gone/status", state: .connected, reported: now),
            port: 5001, userId: user.id))

        // Left by a creation that stopped before confirming it: never told, removed once old.
        let stopped = try await store.insert(Connection(
            endpoint1: Endpoint(processId: m1.id, interfaceId: "meter/status"),
            endpoint2: Endpoint(processId: idle.id, interfaceId: "aggregator/status"),
            port: 5003, userId: user.id, provisional: true, created: now.addingTimeInterval(-60)))
        // The same, made 12 s ago: its creation may still be running (10 s, and engines' clocks 5 s
        // apart); left alone, and untold.
        let young = try await store.insert(Connection(
            endpoint1: Endpoint(processId: m2.id, interfaceId: "meter/status"),
            endpoint2: Endpoint(processId: a1.id, interfaceId: "aggregator/status"),
            port: 5004, userId: user.id, provisional: true, created: now.addingTimeInterval(-12)))

        for _ in 0..<2 { try await engine.connections.repair(now: now) }

        let queued = try await store.all(PendingChange.self)
        let told = queued.filter { $0.type == ConnectEndpointStep.kind }.compactMap { try? $0.payload.decode(as: EndpointSubject.self) }
        #expect(Set(told.map { "\($0.connectionId) \($0.processId)" })
                == ["\(neverTold.id) \(m1.id)", "\(longStarting.id) \(m2.id)"], "\(queued.map(\.description))")
        #expect(told.count == 2, "told twice: \(queued.map(\.description))")
        #expect(!told.contains { $0.connectionId == settled.id }, "a connected side, and a process that does not run, are left alone")
        let removed = queued.filter { $0.type == DisconnectEndpointStep.kind }.compactMap { try? $0.payload.decode(as: EndpointSubject.self) }
        #expect(Set(removed.map(\.connectionId)) == [orphan.id] && removed.count == 2, "\(queued.map(\.description))")
        #expect(try await store.fetch(Connection.self, id: orphan.id)?.removing == true)
        #expect(try await store.fetch(Connection.self, id: stopped.id) == nil)
        #expect(try await store.fetch(Connection.self, id: young.id)?.provisional == true)
    }
}

/// A removal whose changes all ended without both sides ending the connection never leaves it
/// "removing": cancelled, it is kept and its ended side told again; failed for good, it goes.
@Suite("Connection removal settled", .timeLimit(.minutes(3)))
struct ConnectionRemovalSettledTests {
    @Test("a removal cancelled is taken back (its ended side told again), one failed for good removes the connection, one still open is left alone",
          arguments: StoreBackend.available)
    func settle(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let engine = try Fixtures.offlineEngine(on: store)
        let user = try await store.insert(Fixtures.user())
        var processes: [ServiceProcess] = []
        for name in ["m1", "a1"] { processes.append(try await store.insert(Fixtures.process(user: user.id, name: name))) }
        let (m1, a1) = (processes[0], processes[1])
        func removing(port: Int, ended: Bool) async throws -> Connection {
            try await store.insert(Connection(
                endpoint1: Endpoint(processId: m1.id, interfaceId: "meter/readings-\(port)", interfaceVersionName: "v1",
                                    state: ended ? .terminated : .connected, reported: Date()),
                endpoint2: Endpoint(processId: a1.id, interfaceId: "aggregator/readings-in", interfaceVersionName: "v1",
                                    state: .connected, reported: Date()),
                port: port, userId: user.id, removing: true))
        }
        /// The two disconnect changes of `connection`, queued as a removal queues them, ended in `states`.
        func disconnects(_ connection: Connection, _ states: [PendingChangeState]) async throws -> [PendingChange] {
            var changes: [PendingChange] = []
            for (process, state) in zip([m1, a1], states) {
                var change = try PendingChange(
                    DisconnectEndpointStep.self, EndpointSubject(connectionId: connection.id, processId: process.id),
                    description: "end it at \(process.name)", resources: [process.id, EndpointSubject.resource(connection.id, process.id)],
                    userId: user.id, createdBy: "alice")
                if state.isTerminal { change.end(in: state, reason: "\(state.rawValue) in the test", at: Date()) }
                changes.append(try await store.insert(change))
            }
            return changes
        }
        let cancelled = try await removing(port: 5000, ended: true)
        _ = try await disconnects(cancelled, [.finished, .cancelled])
        let failed = try await removing(port: 5001, ended: false)
        _ = try await disconnects(failed, [.failedPermanently, .finished])
        let open = try await removing(port: 5002, ended: true)
        _ = try await disconnects(open, [.finished, .failedTemporary])

        for _ in 0..<2 { try await engine.connections.repair() }

        let kept = try #require(try await store.fetch(Connection.self, id: cancelled.id))
        #expect(!kept.removing && kept.endpoint(of: m1.id)?.state == nil && kept.endpoint(of: a1.id)?.state == .connected, "\(kept)")
        let told = try await store.all(PendingChange.self, .where("type", is: ConnectEndpointStep.kind.rawValue))
            .compactMap { try? $0.payload.decode(as: EndpointSubject.self) }
        #expect(told.map { "\($0.connectionId) \($0.processId)" } == ["\(cancelled.id) \(m1.id)"], "told once, only the side that ended it: \(told)")
        #expect(try await store.fetch(Connection.self, id: failed.id) == nil, "a removal failed for good left the connection")
        #expect(try await store.fetch(Connection.self, id: open.id)?.removing == true, "a removal still under way was settled")
        let actions = try await store.all(AuditEvent.self).map(\.action)
        #expect(actions.filter { $0 == "connection.kept" }.count == 1 && actions.contains("connection.removed-forced"), "\(actions)")
    }
}
