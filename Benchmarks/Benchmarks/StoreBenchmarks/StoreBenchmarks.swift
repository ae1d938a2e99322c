import Benchmark
import BenchmarkSupport
import Engine
import Foundation
import Synchronization

// Store benchmarks, SQLite and (when DEFPI_BENCH_MONGODB_URI or TESTBED_MONGODB_URI names a server)
// MongoDB side by side. Targets on SQLite: listing one user's 1,000 of 10,000 processes in at most
// 20 ms; at least 2,000 queue changes leased, run and finished per second by 4 workers.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .milliseconds, warmupIterations: 1, maxDuration: .seconds(30), maxIterations: 50)

    for backend in BenchmarkBackend.available {
        let name = backend.name

        Benchmark("\(name): insert 10,000 processes", configuration: .init(maxIterations: backend.slowIterations)) { benchmark in
            _ = await benchmark.step("inserting 10,000 processes", attempts: 1) {
                let store = try await backend.freshStore()
                let processes = Workload.processes(count: 10_000, users: 10)
                benchmark.startMeasurement()
                for process in processes { _ = try await store.insert(process) }
                benchmark.stopMeasurement()
            }
        }

        let listing = SharedStore()
        Benchmark("\(name): list one user's 1,000 of 10,000 processes") { benchmark in
            guard let store = listing.store,
                  let page = await benchmark.step("listing", attempts: 1, { try await store.all(ServiceProcess.self, .where("userId", is: Workload.userId(3))) })
            else { return benchmark.error("the store was not filled") }
            if page.count != 1_000 { benchmark.error("listed \(page.count) processes, not 1,000") }
            blackHole(page)
        } setup: {
            let store = try await backend.freshStore()
            for process in Workload.processes(count: 10_000, users: 10) { _ = try await store.insert(process) }
            listing.store = store
        }

        Benchmark("\(name): one worker leases and finishes 1,000 changes, store calls only",
                  configuration: .init(maxIterations: backend.slowIterations)) { benchmark in
            _ = await benchmark.step("leasing and finishing 1,000 changes", attempts: 1) {
                let store = try await backend.freshStore()
                for index in 0..<1_000 {
                    _ = try await store.enqueue(try PendingChange(
                        NothingToDo.self, .init(index: index), description: "configure process \(index)",
                        resources: [ObjectID.generate()], createdBy: "benchmark", runAt: Date(timeIntervalSince1970: 0)))
                }
                benchmark.startMeasurement()
                while let change = try await store.leaseNextChange(owner: "bench", kinds: [NothingToDo.kind],
                                                                   leaseUntil: Date() + 60, now: Date()) {
                    _ = try await store.closeLease(change, owner: "bench", outcome: .finished, audit: nil, now: Date())
                }
                benchmark.stopMeasurement()
            }
        }

        Benchmark("\(name): 4 workers lease, run and finish 1,000 queued changes",
                  configuration: .init(maxIterations: backend.slowIterations)) { benchmark in
            _ = await benchmark.step("running 1,000 changes on 4 workers", attempts: 1) {
                let store = try await backend.freshStore()
                let queue = PendingChangeManager(store: store, notifications: EngineNotifications(), owner: "bench",
                                                 settings: QueueSettings(workers: 4))
                let changes = 1_000
                queue.register(NothingToDo(queue: queue, stopAfter: changes))
                for index in 0..<changes {
                    _ = try await store.enqueue(try PendingChange(
                        NothingToDo.self, .init(index: index), description: "configure process \(index)",
                        resources: [ObjectID.generate()], createdBy: "benchmark", runAt: Date(timeIntervalSince1970: 0)))
                }
                benchmark.startMeasurement()
                await queue.run()  // The engine's own worker loop; returns once the last change is recorded.
                benchmark.stopMeasurement()
                let finished = try await store.count(PendingChange.self, .where("state", is: "FINISHED"))
                if finished != changes { benchmark.error("\(finished) of \(changes) changes finished") }
            }
        }
    }
}

/// A step with no side effect: what is measured is the queue itself (lease, renewal set-up,
/// finish, audit). The last one stops the workers' loop.
struct NothingToDo: ChangeStep {
    struct Payload: Codable, Sendable {
        var index: Int
    }

    static let kind: PendingChangeKind = "BENCHMARK"
    let queue: PendingChangeManager
    let stopAfter: Int
    let ran = RunCount()

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        if ran.value.add(1, ordering: .relaxed).newValue == stopAfter { queue.stopLeasing() }
    }
}

/// How many steps have run.
final class RunCount: Sendable {
    let value = Atomic<Int>(0)
}

/// A store prepared once by a benchmark's setup and read by its iterations.
final class SharedStore: @unchecked Sendable {
    var store: (any Store)?
}

/// Where the benchmarks run.
struct BenchmarkBackend: Sendable {
    let name: String
    let slowIterations: Int
    let freshLocation: @Sendable () -> String

    func freshStore() async throws -> any Store {
        try await StoreLocation(parsing: freshLocation()).open()
    }

    static var available: [BenchmarkBackend] {
        var backends = [BenchmarkBackend(name: "SQLite", slowIterations: 10) {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("defpi-bench-\(ObjectID.generate())")
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory.path + "/defpi.sqlite"
        }]
        let environment = ProcessInfo.processInfo.environment
        if let uri = environment["DEFPI_BENCH_MONGODB_URI"] ?? environment["TESTBED_MONGODB_URI"], !uri.isEmpty {
            backends.append(BenchmarkBackend(name: "MongoDB", slowIterations: 3) {
                uri.replacingOccurrences(of: "/?", with: "/defpi_bench_\(ObjectID.generate())?")
            })
        }
        return backends
    }
}

/// The data the benchmarks work on.
enum Workload {
    static func userId(_ index: Int) -> String { String(format: "%024x", index + 1) }

    /// `count` processes spread evenly over `users` owners.
    static func processes(count: Int, users: Int) -> [ServiceProcess] {
        (0..<count).map { index in
            ServiceProcess(name: "meter-\(index)", userId: userId(index % users), serviceId: "meter", serviceVersion: "1.2.0",
                           placement: .pool("pool-1"), state: .running, dockerId: "svc-\(index)",
                           configuration: [ProcessParameter(key: "INTERVAL", value: "\(index % 60)")])
        }
    }
}
