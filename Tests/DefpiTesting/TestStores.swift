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
    public func makeStore() throws -> any Store {
        try StoreLocation(parsing: freshLocation()).open()
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
