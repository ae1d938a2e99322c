import Benchmark
import BenchmarkSupport
import DefpiAPI
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceLifecycle

// The REST API over HTTP on localhost, one request per sample, on a SQLite store of 10,000
// processes of 10 users. Target: GET /process for one user's 1,000, p99 at most 50 ms.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 5, maxDuration: .seconds(60), maxIterations: 500)
    let server = APIServer()

    Benchmark("GET /process as one user: 1,000 of 10,000 processes") { benchmark in
        let response = await server.get("/process", headers: server.userHeaders, expecting: "1000", in: benchmark)
        blackHole(response)
    } setup: {
        try await server.start()
    }

    Benchmark("GET /process as an admin: all 10,000 processes", configuration: .init(maxIterations: 100)) { benchmark in
        let response = await server.get("/process", headers: server.adminHeaders, expecting: "10000", in: benchmark)
        blackHole(response)
    } setup: {
        try await server.start()
    }

    Benchmark("GET /process/{id} as one user") { benchmark in
        let response = await server.get("/process/\(server.oneProcess)", headers: server.userHeaders, in: benchmark)
        blackHole(response)
    } setup: {
        try await server.start()
    }
}

/// The API of an Engine on a store filled once, served on a free port, with a client connected.
final class APIServer: @unchecked Sendable {
    /// `GET path`; an answer other than 200 (with `total` in X-Total-Count, when given) is reported
    /// as the benchmark's error, never a trap.
    func get(_ path: String, headers: HTTPFields, expecting total: String? = nil, in benchmark: Benchmark) async -> TestClient.Response? {
        guard let client else {
            benchmark.error("the API server did not start")
            return nil
        }
        guard let response = await benchmark.step("GET \(path)", attempts: 1, { try await client.get(path, headers: headers) }) else { return nil }
        if response.status != .ok || (total != nil && response.headers[HTTPField.Name("X-Total-Count")!] != total) {
            benchmark.error("GET \(path) answered \(response.status), X-Total-Count \(response.headers[HTTPField.Name("X-Total-Count")!] ?? "none")")
        }
        return response
    }

    var client: TestClient?
    var userHeaders: HTTPFields = [:]
    var adminHeaders: HTTPFields = [:]
    var oneProcess = ""

    func start() async throws {
        guard client == nil else { return }
        let location = FileManager.default.temporaryDirectory.appendingPathComponent("defpi-api-bench-\(UUID().uuidString).sqlite").path
        let engine = try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: location), docker: DockerEndpoint(unixSocketPath: "/nonexistent.sock"),
            registry: RegistrySettings(url: "http://127.0.0.1:1")))
        let operatorCaller = Caller.localOperator(name: "bench")
        var owners: [User] = []
        for index in 0..<10 {
            owners.append(try await engine.users.create(username: "user\(index)", password: "a-long-password", by: operatorCaller))
        }
        _ = try await engine.users.create(username: "root", password: "a-long-password", admin: true, by: operatorCaller)
        let store = try await StoreLocation(parsing: location).open()
        for index in 0..<10_000 {
            let process = try await store.insert(ServiceProcess(
                name: "meter-\(index)", userId: owners[index % 10].id, serviceId: "meter", serviceVersion: "1.2.0",
                placement: .pool("pool-1"), state: .running, dockerId: "svc-\(index)",
                configuration: [ProcessParameter(key: "INTERVAL", value: "\(index % 60)")]))
            if index == 3 { oneProcess = process.id }
        }
        let user = try await engine.signIn.signIn(username: "user3", password: "a-long-password", source: "bench")
        let admin = try await engine.signIn.signIn(username: "root", password: "a-long-password", source: "bench")
        userHeaders = [.authorization: "Bearer \(user.token)"]
        adminHeaders = [.authorization: "Bearer \(admin.token)"]

        let port = AsyncStream<Int>.makeStream()
        let application = Application(router: RESTAPI(engine: engine).router(),
                                      configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                      onServerRunning: { channel in port.continuation.yield(channel.localAddress?.port ?? 0) })
        Task { try await application.runService() }
        var iterator = port.stream.makeAsyncIterator()
        let client = TestClient(host: "127.0.0.1", port: await iterator.next() ?? 0)
        client.connect()
        self.client = client
    }
}
