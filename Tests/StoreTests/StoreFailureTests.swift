import CMongoc
import DefpiTesting
import Engine
import Foundation
import GRDB
import Testing

/// Bad locations and damaged stores: a clear typed error, nothing overwritten, no hang.
@Suite("Store failures", .timeLimit(.minutes(5)))
struct StoreFailureTests {
    @Test("a version-1 SQLite store is migrated: duplicate nodes of one swarm node are merged, the classified one kept")
    func migrateVersionOne() async throws {
        let path = TemporaryDirectory.make().path + "/v1.sqlite"
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            // The tables of version 1, the collections that came before access tokens.
            for collection in EntityCollection.allCases where ![.accessToken, .userQuota].contains(collection) {
                try db.execute(sql: "CREATE TABLE \"\(collection.rawValue)\" (id TEXT PRIMARY KEY NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL)")
            }
            try db.execute(sql: "CREATE INDEX Node_dockerId ON Node (json_extract(data, '$.dockerId'), id)")
            for (id, kind) in [("000000000000000000000001", "UNIDENTIFIED"), ("000000000000000000000002", "PUBLIC"),
                               ("000000000000000000000003", "UNIDENTIFIED")] {
                try db.execute(sql: "INSERT INTO Node VALUES (?, 1, ?)", arguments: [
                    id, "{\"id\":\"\(id)\",\"revision\":1,\"kind\":\"\(kind)\",\"name\":\"w1\",\"dockerId\":\"d1\",\"hostname\":\"w1\",\"status\":\"READY\",\"architecture\":\"X86_64\",\"availability\":\"ACTIVE\",\"role\":\"WORKER\"}",
                ])
            }
            try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('v1: document tables')")
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        try queue.close()
        let store = try SQLiteStore(path: path)
        let nodes = try await store.all(Node.self)
        #expect(nodes.map(\.id) == ["000000000000000000000002"])
        #expect(try await store.inventory().schemaVersion == StoreSchema.currentVersion)
    }

    @Test("a file that is not a SQLite database is refused by name and left untouched")
    func corruptSQLiteFile() throws {
        let path = TemporaryDirectory.make().path + "/defpi.sqlite"
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try garbage.write(to: URL(fileURLWithPath: path))

        #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        do {
            _ = try SQLiteStore(path: path)
        } catch let error as StoreError {
            #expect(error.userMessage.contains(path))
            #expect(error.userMessage.contains("not a SQLite database"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }

    @Test("a SQLite database damaged past its header is reported as corrupt")
    func damagedSQLitePages() async throws {
        let path = TemporaryDirectory.make().path + "/defpi.sqlite"
        do {
            let store = try SQLiteStore(path: path)
            for index in 0..<200 { _ = try await store.insert(Fixtures.process(user: "u", name: "p\(index)")) }
        }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for offset in stride(from: 4096, to: bytes.count, by: 1) { bytes[offset] = 0x5A }
        try bytes.write(to: URL(fileURLWithPath: path))
        try? FileManager.default.removeItem(atPath: path + "-wal")
        try? FileManager.default.removeItem(atPath: path + "-shm")

        await #expect {
            let store = try SQLiteStore(path: path)
            _ = try await store.all(ServiceProcess.self)
        } throws: { error in
            guard let error = error as? StoreError, case .unreadable(let location, _) = error else { return false }
            return location == path
        }
    }

    @Test("a SQLite store written by a newer defpi is refused, not downgraded")
    func newerSQLiteSchema() throws {
        let path = TemporaryDirectory.make().path + "/defpi.sqlite"
        _ = try SQLiteStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "PRAGMA user_version = 99") }
        try queue.close()

        #expect(throws: StoreError.newerSchema(location: path, found: 99, supported: StoreSchema.currentVersion)) {
            try SQLiteStore(path: path)
        }
        let version = try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
        #expect(version == 99)
    }

    @Test("a MongoDB store written by a newer defpi is refused", .enabled(if: TestBed.hasMongo))
    func newerMongoSchema() throws {
        let base = try #require(TestBed.mongoURI)
        let uri = base.withDatabase("defpi_test_\(ObjectID.generate())")
        _ = try MongoStore(uri: uri)
        try MongoShell(uri: uri).setSchemaVersion(99)
        #expect(throws: StoreError.newerSchema(location: uri, found: 99, supported: StoreSchema.currentVersion)) {
            try MongoStore(uri: uri)
        }
    }

    @Test("an unreachable MongoDB fails within 5 s, naming host and port, password redacted")
    func unreachableMongo() throws {
        let started = Date()
        do {
            _ = try MongoStore(uri: "mongodb://operator:s3cret@127.0.0.1:1/defpi")
            Issue.record("connected to a closed port")
        } catch let error as StoreError {
            guard case .unreachable = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.userMessage.contains("127.0.0.1:1"))
            #expect(!error.description.contains("s3cret"))
            #expect(error.userMessage.contains("operator:***@"))
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test("bad store locations say what is wrong", arguments: [
        ("mongodb://", "invalid store location"),
        ("mongodb://host:99999999/db", "invalid store location"),
        ("postgres://db/defpi", "scheme 'postgres' is not supported"),
        ("sqlite://", "names no file"),
        ("   ", "it is empty"),
    ])
    func badLocations(location: String, expected: String) async {
        do {
            _ = try await StoreLocation(parsing: location).open()
            Issue.record("\(location) was accepted")
        } catch let error as StoreError {
            #expect(error.userMessage.contains(expected), "\(error.userMessage)")
        } catch {
            Issue.record("untyped error \(error)")
        }
    }
}

/// Direct access to a test MongoDB database, for setting up states defpi itself never writes.
struct MongoShell {
    let uri: String

    func setSchemaVersion(_ version: Int64) throws {
        mongoc_init()
        let client = try #require(mongoc_client_new(uri))
        defer { mongoc_client_destroy(client) }
        let database = String(uri.split(separator: "/")[2].split(separator: "?")[0])
        let collection = mongoc_client_get_collection(client, database, "defpiMeta")
        defer { mongoc_collection_destroy(collection) }
        var error = bson_error_t()
        let json = #"{"_id": "schema"}"#
        let update = #"{"$set": {"version": \#(version)}}"#
        let filter = bson_new_from_json(json, -1, &error)
        let change = bson_new_from_json(update, -1, &error)
        defer { bson_destroy(filter); bson_destroy(change) }
        #expect(mongoc_collection_update_one(collection, filter, change, nil, nil, &error))
    }
}

extension StoreFailureTests {
    @Test("a directory given as the SQLite file is refused with a hint")
    func directoryAsStore() {
        let directory = TemporaryDirectory.make().path
        #expect(throws: StoreError.unreadable(location: directory, reason: "it is a directory; name a file in it, e.g. \(directory)/defpi.sqlite")) {
            try SQLiteStore(path: directory)
        }
    }
}

extension StoreFailureTests {
    @Test("a version-2 SQLite store with a user's process name and a pool name made twice migrates: the younger get their id's end")
    func migrateDuplicateNames() async throws {
        let path = TemporaryDirectory.make().path + "/v2.sqlite"
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            for collection in EntityCollection.allCases where ![.accessToken, .userQuota].contains(collection) {
                try db.execute(sql: "CREATE TABLE \"\(collection.rawValue)\" (id TEXT PRIMARY KEY NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL)")
            }
            for id in ["000000000000000000000001", "000000000000000000000002"] {
                try db.execute(sql: "INSERT INTO Process VALUES (?, 1, ?)", arguments: [
                    id, "{\"id\":\"\(id)\",\"revision\":1,\"name\":\"meter-1\",\"userId\":\"u1\",\"serviceId\":\"meter\",\"serviceVersion\":\"1.0.0\",\"token\":\"t\(id)\",\"state\":\"RUNNING\",\"configuration\":[],\"maxMemoryBytes\":0,\"maxNanoCPUs\":0,\"mountPoints\":[],\"exposePorts\":[],\"debuggingPort\":0,\"suspendOnDebug\":false}",
                ])
                try db.execute(sql: "INSERT INTO NodePool VALUES (?, 1, ?)", arguments: [id, "{\"id\":\"\(id)\",\"revision\":1,\"name\":\"edge\"}"])
            }
            try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            for migration in ["v1: document tables", "v2: unique node dockerId"] {
                try db.execute(sql: "INSERT INTO grdb_migrations VALUES (?)", arguments: [migration])
            }
            try db.execute(sql: "PRAGMA user_version = 2")
        }
        try queue.close()
        let store = try SQLiteStore(path: path)
        #expect(Set(try await store.all(ServiceProcess.self).map(\.name)) == ["meter-1", "meter-1-000002"])
        #expect(Set(try await store.all(NodePool.self).map(\.name)) == ["edge", "edge-000002"])
        #expect(try await store.inventory().schemaVersion == StoreSchema.currentVersion)
    }
}
