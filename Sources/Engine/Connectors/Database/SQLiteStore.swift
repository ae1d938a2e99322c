import Foundation
import GRDB

/// The embedded store: one SQLite file (WAL mode, safe for several Engine processes at once),
/// built on GRDB. Each collection is a table of JSON documents with an id and a revision column;
/// the fields the managers query are indexed by expression.
public final class SQLiteStore: Store {
    public let location: String
    private let pool: DatabasePool
    private let documents: DocumentCoder

    /// Opens (creating if needed) the store at `path` and migrates it to the current schema.
    /// A file that is not a SQLite database, or one written by a newer defpi, is refused untouched.
    public init(path: String) throws {
        location = path
        documents = DocumentCoder()
        try Self.checkExistingFile(at: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "defpi.store"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            let found = try pool.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
            guard found <= StoreSchema.currentVersion else {
                throw StoreError.newerSchema(location: path, found: found, supported: StoreSchema.currentVersion)
            }
            try SQLiteSchema.migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw Self.storeError(error, location: path)
        }
    }

    /// Refuses, before SQLite touches it, a file that cannot be read or is not a SQLite database.
    private static func checkExistingFile(at path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError.unreadable(location: path, reason: "cannot create the directory \(directory) (\(error.localizedDescription))")
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue {
            throw StoreError.unreadable(location: path, reason: "it is a directory; name a file in it, e.g. \(path)/defpi.sqlite")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError.unreadable(location: path, reason: "the file cannot be read (permission denied?)")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if !header.isEmpty && header != Data("SQLite format 3\0".utf8) {
            throw StoreError.unreadable(location: path, reason: "it is not a SQLite database (the file header is wrong; corrupt, or another kind of file)")
        }
    }

    static func storeError(_ error: DatabaseError, location: String) -> StoreError {
        switch error.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return .unreadable(location: location, reason: "the database file is corrupt (\(error.message ?? "\(error.resultCode)"))")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
            return .unreadable(location: location, reason: "the database cannot be opened for writing (\(error.message ?? "\(error.resultCode)"))")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .backend(location: location, message: "the database stayed locked by another process for 10 s")
        default:
            return .backend(location: location, message: error.message ?? "\(error.resultCode)")
        }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as DatabaseError {
            throw Self.storeError(error, location: location)
        }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as DatabaseError {
            throw Self.storeError(error, location: location)
        }
    }

    // MARK: Documents

    public func insert<E: Entity>(_ entity: E) async throws -> E {
        let stored = entity.atRevision(1)
        let data = try documents.encode(stored)
        let table = E.collection.rawValue
        do {
            try await pool.write { db in
                try db.cachedStatement(sql: "INSERT INTO \"\(table)\" (id, revision, data) VALUES (?, 1, ?)")
                    .execute(arguments: [stored.id, data])
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreError.duplicate(stored, databaseMessage: error.message ?? "")
        } catch let error as DatabaseError {
            throw Self.storeError(error, location: location)
        }
        return stored
    }

    public func update<E: Entity>(_ entity: E) async throws -> E {
        let stored = entity.atRevision(entity.revision + 1)
        let data = try documents.encode(stored)
        let table = E.collection.rawValue
        do {
            let storedRevision: Int?? = try await pool.write { db in
                try db.cachedStatement(sql: "UPDATE \"\(table)\" SET revision = ?, data = ? WHERE id = ? AND revision = ?")
                    .execute(arguments: [stored.revision, data, entity.id, entity.revision])
                if db.changesCount == 1 { return .none }
                return .some(try Int.fetchOne(db.cachedStatement(sql: "SELECT revision FROM \"\(table)\" WHERE id = ?"), arguments: [entity.id]))
            }
            switch storedRevision {
            case .none: return stored
            case .some(nil): throw StoreError.notFound(E.collection, id: entity.id)
            case .some(let revision?):
                throw StoreError.conflict(E.collection, id: entity.id, expectedRevision: entity.revision, storedRevision: revision)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreError.duplicate(stored, databaseMessage: error.message ?? "")
        } catch let error as DatabaseError {
            throw Self.storeError(error, location: location)
        }
    }

    public func fetch<E: Entity>(_ type: E.Type, id: String) async throws -> E? {
        let table = E.collection.rawValue
        let documents = self.documents
        return try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT revision, data FROM \"\(table)\" WHERE id = ?"), arguments: [id])
                .map { try documents.decode(E.self, row: $0) }
        }
    }

    @discardableResult
    public func delete<E: Entity>(_ type: E.Type, id: String, revision: Int?) async throws -> Bool {
        let table = E.collection.rawValue
        let storedRevision: Int?? = try await write { db in
            if let revision {
                try db.cachedStatement(sql: "DELETE FROM \"\(table)\" WHERE id = ? AND revision = ?").execute(arguments: [id, revision])
            } else {
                try db.cachedStatement(sql: "DELETE FROM \"\(table)\" WHERE id = ?").execute(arguments: [id])
            }
            if db.changesCount == 1 { return .none }
            return .some(try Int.fetchOne(db.cachedStatement(sql: "SELECT revision FROM \"\(table)\" WHERE id = ?"), arguments: [id]))
        }
        switch storedRevision {
        case .none: return true
        case .some(nil): return false
        case .some(let stored?):
            throw StoreError.conflict(E.collection, id: id, expectedRevision: revision ?? 0, storedRevision: stored)
        }
    }

    public func list<E: Entity>(_ type: E.Type, _ query: StoreQuery) async throws -> StorePage<E> {
        let table = E.collection.rawValue
        let condition = SQLiteQuery(query.filter)
        let order = (query.sort.map { "\(SQLiteQuery.expression($0.field)) \($0.ascending ? "ASC" : "DESC")" } + ["id ASC"])
            .joined(separator: ", ")
        let limit = query.limit.map { " LIMIT \(max(0, $0)) OFFSET \(max(0, query.offset))" }
            ?? (query.offset > 0 ? " LIMIT -1 OFFSET \(query.offset)" : "")
        let documents = self.documents
        return try await read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT revision, data FROM \"\(table)\" WHERE \(condition.sql) ORDER BY \(order)\(limit)",
                arguments: condition.arguments)
            let total: Int
            if query.offset == 0 && (query.limit == nil || rows.count < query.limit!) {
                total = rows.count
            } else {
                total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(table)\" WHERE \(condition.sql)",
                                         arguments: condition.arguments) ?? 0
            }
            return StorePage(items: try rows.map { try documents.decode(E.self, row: $0) }, total: total)
        }
    }

    public func count<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int {
        let table = E.collection.rawValue
        let condition = SQLiteQuery(filter)
        return try await read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(table)\" WHERE \(condition.sql)", arguments: condition.arguments) ?? 0
        }
    }

    // MARK: Queue

    public func leaseNextChange(owner: String, leaseUntil: Date, now: Date) async throws -> PendingChange? {
        let documents = self.documents
        let nowMillis = now.epochMilliseconds
        return try await write { db -> PendingChange? in
            let held = try String.fetchAll(db.cachedStatement(sql: SQLiteSchema.leasedResourcesSQL), arguments: [nowMillis])
            let heldJSON = String(decoding: try JSONEncoder().encode(held), as: UTF8.self)
            let candidates = try [SQLiteSchema.dueChangeSQL, SQLiteSchema.expiredLeaseSQL].compactMap { sql in
                try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [nowMillis, heldJSON])
            }
            guard let next = candidates.min(by: { ($0["runAt"] as Int64, $0["id"] as String) < ($1["runAt"], $1["id"]) }) else {
                return nil
            }
            var change = try documents.decode(PendingChange.self, row: next)
            change.state = .running
            change.leaseOwner = owner
            change.leaseExpiry = leaseUntil
            change.count += 1
            change.updated = now
            return try Self.replace(change, in: db, documents: documents)
        }
    }

    public func renewLease(changeId: String, owner: String, leaseUntil: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner) { change in
            change.leaseExpiry = leaseUntil
        }
    }

    public func finishChange(changeId: String, owner: String, now: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner) { change in
            change.release(to: .finished, at: now)
        }
    }

    public func failChange(changeId: String, owner: String, error: String, retryAt: Date?, now: Date) async throws
        -> PendingChange
    {
        try await modifyLeased(changeId: changeId, owner: owner) { change in
            change.recordFailure(error, retryAt: retryAt, now: now)
        }
    }

    private func modifyLeased(changeId: String, owner: String, _ modify: @escaping @Sendable (inout PendingChange) -> Void)
        async throws -> PendingChange
    {
        let documents = self.documents
        return try await write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT revision, data FROM PendingChange WHERE id = ?"), arguments: [changeId]) else {
                throw StoreError.leaseLost(changeId: changeId, owner: owner)
            }
            var change = try documents.decode(PendingChange.self, row: row)
            guard change.state == .running, change.leaseOwner == owner else {
                throw StoreError.leaseLost(changeId: changeId, owner: owner)
            }
            modify(&change)
            return try Self.replace(change, in: db, documents: documents)
        }
    }

    /// Writes `change` over the row it was read from, inside the caller's transaction.
    private static func replace(_ change: PendingChange, in db: Database, documents: DocumentCoder) throws -> PendingChange {
        var stored = change
        stored.revision += 1
        try db.cachedStatement(sql: "UPDATE PendingChange SET revision = ?, data = ? WHERE id = ? AND revision = ?")
            .execute(arguments: [stored.revision, try documents.encode(stored), change.id, change.revision])
        return stored
    }

    /// SQLite's `data_version` (commits of other connections, in any process) and the writer
    /// connection's own change count, read on the writer so both come from one connection.
    public func changeMarker() async throws -> String? {
        do {
            return try await pool.writeWithoutTransaction { db in
                "\(try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0).\(db.totalChangesCount)"
            }
        } catch let error as DatabaseError {
            throw Self.storeError(error, location: location)
        }
    }

    public func inventory() async throws -> StoreInventory {
        let location = self.location
        return try await read { db in
            var counts: [EntityCollection: Int] = [:]
            for collection in EntityCollection.allCases {
                counts[collection] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(collection.rawValue)\"") ?? 0
            }
            let version = try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "?"
            let schema = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            return StoreInventory(backend: "SQLite \(version)", location: location, schemaVersion: schema, counts: counts)
        }
    }
}

/// Encodes entities to the JSON text stored in the `data` column and back.
struct DocumentCoder: Sendable {
    private let encoder = ModelCoding.encoder()
    private let decoder = ModelCoding.decoder()

    func encode<E: Entity>(_ entity: E) throws -> String {
        do {
            return String(decoding: try encoder.encode(entity), as: UTF8.self)
        } catch {
            throw StoreError.invalidEntity(E.collection, reason: "\(error)")
        }
    }

    func decode<E: Entity>(_ type: E.Type, row: Row) throws -> E {
        let data: String = row["data"]
        do {
            var entity = try decoder.decode(E.self, from: Data(data.utf8))
            entity.revision = row["revision"]
            return entity
        } catch {
            throw StoreError.undecodable(E.collection, reason: "\(error)")
        }
    }
}
