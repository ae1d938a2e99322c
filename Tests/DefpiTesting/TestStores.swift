import Engine
import Foundation

/// The store backends the conformance suite runs against.
public enum StoreBackend: String, CaseIterable, Sendable {
    case sqlite
    case mongo

    /// SQLite always; MongoDB when the test bed's server is configured (see `TestBed`).
    public static var available: [StoreBackend] {
        TestBed.mongoURI == nil ? [.sqlite] : [.sqlite, .mongo]
    }

    /// A new, empty store of this backend: a file in a fresh temporary directory, or a fresh
    /// database on the test bed's MongoDB server.
    public func makeStore() async throws -> any Store {
        try await StoreLocation(parsing: freshLocation()).open()
    }

    /// The location of a new, empty store of this backend (nothing is created yet).
    public func freshLocation() -> String {
        switch self {
        case .sqlite:
            return TemporaryDirectory.make().path + "/defpi.sqlite"
        case .mongo:
            return TestBed.mongoURI!.withDatabase("defpi_test_\(ObjectID.generate())")
        }
    }
}

/// The running test bed, as described by the environment `scripts/testbed.sh up` prints.
public enum TestBed {
    /// `DEFPI_TEST_MONGODB_URI`, else `TESTBED_MONGODB_URI`.
    public static var mongoURI: MongoTestURI? {
        let environment = ProcessInfo.processInfo.environment
        guard let uri = environment["DEFPI_TEST_MONGODB_URI"] ?? environment["TESTBED_MONGODB_URI"], !uri.isEmpty else {
            return nil
        }
        return MongoTestURI(uri)
    }

    /// Whether the test command demands the test bed (`DEFPI_REQUIRE_TESTBED=1`): then a missing
    /// part is a failure, not a skip.
    public static var isRequired: Bool {
        ProcessInfo.processInfo.environment["DEFPI_REQUIRE_TESTBED"] == "1"
    }
}

/// A MongoDB URI whose database name can be replaced.
public struct MongoTestURI: Sendable {
    public let uri: String

    init(_ uri: String) { self.uri = uri }

    /// The URI with its path (database) set to `database`, options kept.
    public func withDatabase(_ database: String) -> String {
        guard let scheme = uri.range(of: "://") else { return uri }
        let rest = uri[scheme.upperBound...]
        let hostEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let options = rest[hostEnd...].firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        return String(uri[..<hostEnd]) + "/" + database + options
    }
}

/// A fresh directory under the system's temporary directory.
public enum TemporaryDirectory {
    public static func make() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("defpi-test-\(ObjectID.generate())")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension TestBed {
    private static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Whether the test bed's MongoDB is up (or demanded: then its absence fails the tests).
    public static var hasMongo: Bool { mongoURI != nil || isRequired }

    /// Whether the swarm part of the test bed is up (or demanded: then its absence fails the tests).
    public static var hasSwarm: Bool { environment["TESTBED_DOCKER_SOCKET"] != nil || isRequired }

    /// Whether the registry part of the test bed is up (or demanded).
    public static var hasRegistry: Bool { environment["TESTBED_REGISTRY_URL"] != nil || isRequired }

    /// The swarm manager's Docker socket.
    public static var dockerEndpoint: DockerEndpoint? {
        environment["TESTBED_DOCKER_SOCKET"].map { DockerEndpoint(unixSocketPath: $0) }
    }

    /// `http://127.0.0.1:5000`.
    public static var registryURL: String? { environment["TESTBED_REGISTRY_URL"] }

    /// The hostnames of the swarm's nodes, manager first.
    public static var nodeNames: [String] {
        (environment["TESTBED_NODES"] ?? "").split(separator: " ").map(String.init)
    }

    /// The manager and the two workers the process tests classify and deploy on.
    public static var processNodes: [String] { Array(nodeNames.prefix(3)) }

    /// The workers the swarm-node tests classify, pause and stop, which no process test uses:
    /// labels and node states belong to the swarm, not to a test's store, so tests sharing a
    /// node would see each other's changes.
    public static var nodeTestWorkers: [String] { Array(nodeNames.dropFirst(3)) }

    /// Runs `scripts/testbed.sh arguments...` and returns its exit status, without holding a
    /// thread of the concurrency pool while it runs (starting a node takes seconds).
    @discardableResult
    public static func script(_ arguments: String...) async throws -> Int32 {
        try await ChildProcess.run("/bin/bash", [repositoryRoot + "/scripts/testbed.sh"] + arguments).status
    }

    /// Starts a node again where nothing can be awaited: the `defer` of a test that stopped it.
    public static func restartNodeBlocking(_ name: String) {
        _ = try? ChildProcess.runBlocking("/bin/bash", [repositoryRoot + "/scripts/testbed.sh", "start-node", name])
    }

    /// The checkout this test target was built from.
    public static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}
