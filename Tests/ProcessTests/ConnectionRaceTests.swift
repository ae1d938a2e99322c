import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// Connections created at the same time (API requests side by side, two engines on one store)
/// keep every rule the one-at-a-time tests check: a single-connection interface gets one, and
/// no two connections of a process share a port. On both backends, with the services read
/// from the test bed's registry.
@Suite("Connection races", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(5)))
struct ConnectionRaceTests {
    static let racers = 8

    /// Two engines on one store, each with its own connection to it (as `defpi serve` beside a
    /// console), the bed's meter and aggregator published, and alice.
    struct Setting {
        let engines: [Engine]
        let store: any Store
        let alice: User

        init(_ backend: StoreBackend) async throws {
            let bed = try await MeterBed(alsoPublish: [.aggregator], autoConnect: false)
            let location = try StoreLocation(parsing: backend.freshLocation())
            var engines: [Engine] = []
            for _ in 0..<2 {
                engines.append(try Engine(settings: EngineSettings(
                    store: location, docker: DockerEndpoint(unixSocketPath: "/nonexistent"),
                    registry: RegistrySettings(url: try #require(TestBed.registryURL), prefix: bed.prefix)), store: try await location.open()))
            }
            self.engines = engines
            store = engines[0].store
            alice = try await store.insert(Fixtures.user())
        }

        /// A running process of alice's, of `service` 1.0.0.
        func process(_ name: String, _ service: String) async throws -> ServiceProcess {
            var process = Fixtures.process(user: alice.id, name: name)
            process.serviceId = service
            process.serviceVersion = "1.0.0"
            return try await store.insert(process)
        }

        /// A connection between `first` and `second` (names and interfaces), by an engine of the two.
        func connect(_ first: String, _ second: String, engine: Int = 0) async throws {
            let (a, b) = (try InterfaceReference(parsing: first), try InterfaceReference(parsing: second))
            _ = try await engines[engine % 2].connections.create(a, b, by: Caller(user: alice))
        }
    }

    @Test("eight creations at once: one takes a single-connection interface, the rest are refused as full; eight to a multi-connection one get eight ports",
          arguments: StoreBackend.available)
    func simultaneousCreations(backend: StoreBackend) async throws {
        let setting = try await Setting(backend)
        let store = setting.store
        _ = try await setting.process("m0", "meter")
        for index in 0..<Self.racers { _ = try await setting.process("a\(index)", "aggregator") }

        // One meter's single-connection readings, to eight aggregators at once.
        let outcomes = await race(0..<Self.racers) { index in
            try await setting.connect("m0.readings", "a\(index).readings-in", engine: index)
        }
        #expect(outcomes.filter { $0 == nil }.count == 1, "\(outcomes)")
        #expect(outcomes.compactMap { $0 }.allSatisfy { $0.contains("m0.readings allows one connection") }, "\(outcomes)")
        #expect(try await store.all(Connection.self).count == 1)

        // Eight more meters to the first aggregator's multi-connection interface, at once.
        for index in 1...Self.racers { _ = try await setting.process("m\(index)", "meter") }
        let more = await race(1..<(Self.racers + 1)) { index in
            try await setting.connect("m\(index).readings", "a0.readings-in", engine: index)
        }
        #expect(more.allSatisfy { $0 == nil }, "\(more)")
        let target = try #require(try await store.first(ServiceProcess.self, .where("name", is: "a0")))
        let ports = try await setting.engines[0].connections.connections(of: target.id).map(\.port)
        #expect(ports.count == Self.racers + (outcomes.firstIndex(of: nil) == 0 ? 1 : 0), "\(ports)")
        #expect(Set(ports).count == ports.count, "two connections of a0 share a port: \(ports.sorted())")
        // Every one left is confirmed, with its sides' changes queued; none taken back is left.
        let connections = try await store.all(Connection.self)
        #expect(connections.allSatisfy { !$0.provisional }, "\(connections.map(\.pair))")
        #expect(try await store.count(PendingChange.self, .all) == 2 * connections.count)
    }

    @Test("a provisional connection a stopped creation left is removed by the next creation in its way; a young one is waited for")
    func leftovers() async throws {
        let setting = try await Setting(.sqlite)
        let store = setting.store
        let (m0, a0, a1) = (try await setting.process("m0", "meter"), try await setting.process("a0", "aggregator"),
                            try await setting.process("a1", "aggregator"))
        func provisional(to aggregator: ServiceProcess, age: TimeInterval) async throws -> Connection {
            try await store.insert(Connection(
                endpoint1: Endpoint(processId: m0.id, interfaceId: "meter/readings", interfaceVersionName: "v1"),
                endpoint2: Endpoint(processId: aggregator.id, interfaceId: "aggregator/readings-in", interfaceVersionName: "v1"),
                port: 5000, userId: setting.alice.id, provisional: true, created: Date().addingTimeInterval(-age)))
        }
        // Being made a moment ago, maybe by another engine: m0.readings is not free yet.
        let young = try await provisional(to: a1, age: 1)
        let crowded = await race(0..<1) { _ in try await setting.connect("m0.readings", "a0.readings-in") }
        #expect(crowded[0]?.contains("were being made at the same time") == true && crowded[0]?.contains(young.id) == true,
                "\(crowded)")
        // Left a minute ago by a creation that stopped: out of the way.
        _ = try await store.delete(Connection.self, id: young.id, revision: nil)
        let left = try await provisional(to: a1, age: 60)
        try await setting.connect("m0.readings", "a0.readings-in")
        #expect(try await store.fetch(Connection.self, id: left.id) == nil)
        #expect(try await store.all(Connection.self).map { "\($0.endpoint2.processId) \($0.provisional)" } == ["\(a0.id) false"])
    }

    /// Runs `create` for every index at once; for each, nil when it succeeded, else its message.
    private func race(_ indices: Range<Int>, _ create: @escaping @Sendable (Int) async throws -> Void) async -> [String?] {
        await withTaskGroup(of: (Int, String?).self) { group in
            for index in indices {
                group.addTask {
                    do {
                        try await create(index)
                        return (index, nil)
                    } catch let error as any UserFacingError {
                        return (index, error.userMessage)
                    } catch {
                        return (index, "\(error)")
                    }
                }
            }
            var outcomes = [String?](repeating: nil, count: indices.count)
            for await (index, outcome) in group { outcomes[index - indices.lowerBound] = outcome }
            return outcomes
        }
    }
}
