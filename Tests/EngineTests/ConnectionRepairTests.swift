import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// The periodic re-sync repairs what a lost change or a crash left: a running process's side
/// never told, or with an old unsettled report, is told again (once); a settled or fresh one is
/// left alone; a connection whose process is gone is removed, and so is a provisional one left
/// by a creation that stopped (once it is old), which is never told.
@Suite("Connection repair")
struct ConnectionRepairTests {
    @Test("sides never told or long unsettled are told again, once; others are left alone; a connection to a gone process, or an old provisional one, is removed")
    func repair() async throws {
        let store = try await StoreBackend.sqlite.makeStore()
        let engine = try Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: "/unused.sqlite"), docker: DockerEndpoint(unixSocketPath: "/nonexistent"),
            registry: RegistrySettings()), store: store)
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
