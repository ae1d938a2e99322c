import Foundation
import GRDB
import Logging

/// The embedded store: one SQLite file (WAL mode, safe for several Engine processes at once),
/// built on GRDB. Each collection is a table of JSON documents with an id and a revision column;
/// the fields the managers query are indexed by expression.
public final class SQLiteStore: Store {
    public let location: String
    public let identity: String
    let pool: DatabasePool
    private let commits: GroupCommit
    let documents: DocumentCoder
    static let logger = Logger(label: "defpi.store.sqlite")

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
            try SQLiteSchema.migrate(pool)
            identity = try pool.read(SQLiteSchema.identity(in:))
            commits = GroupCommit(pool: pool)
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

    /// Runs `body` in a write transaction, shared with the writes that arrive meanwhile (see
    /// `GroupCommit`).
    func writing<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await commits.write(body)
        } catch let error as DatabaseError {
            throw Self.storeError(error, location: location)
        }
    }

    func reading<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as DatabaseError {
            throw Self.storeError(error, location: location)
        }
    }

    // MARK: Documents

    public func insert<E: Entity>(_ entity: E) async throws -> E {
        let documents = self.documents
        return try await writing { db in try Self.insertRow(entity, in: db, documents: documents) }
    }

    public func update<E: Entity>(_ entity: E) async throws -> E {
        let documents = self.documents
        return try await writing { db in try Self.updateRow(entity, in: db, documents: documents) }
    }

    public func write(_ batch: StoreBatch) async throws {
        let documents = self.documents
        try await writing { db in
            for write in batch.writes {
                switch write {
                case .insert(let entity): _ = try Self.insertRow(entity, in: db, documents: documents)
                case .update(let entity): _ = try Self.updateRow(entity, in: db, documents: documents)
                case .delete(let collection, let id, let revision):
                    try Self.deleteRow(collection, id: id, revision: revision, in: db)
                }
            }
        }
    }

    /// Inserts `entity` at revision 1 inside the caller's transaction.
    private static func insertRow<E: Entity>(_ entity: E, in db: Database, documents: DocumentCoder) throws -> E {
        let stored = entity.atRevision(1)
        do {
            try insertDocument(E.collection, id: stored.id, data: try documents.encode(stored), in: db)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreError.duplicate(stored, databaseMessage: error.message ?? "")
        }
        return stored
    }

    /// Inserts an encoded document at revision 1 inside the caller's transaction.
    static func insertDocument(_ collection: EntityCollection, id: String, data: String, in db: Database) throws {
        try db.cachedStatement(sql: "INSERT INTO \"\(collection.rawValue)\" (id, revision, data) VALUES (?, 1, ?)")
            .execute(arguments: [id, data])
    }

    /// Replaces `entity` at its revision inside the caller's transaction.
    private static func updateRow<E: Entity>(_ entity: E, in db: Database, documents: DocumentCoder) throws -> E {
        let stored = entity.atRevision(entity.revision + 1)
        let data = try documents.encode(stored)
        let table = E.collection.rawValue
        do {
            try db.cachedStatement(sql: "UPDATE \"\(table)\" SET revision = ?, data = ? WHERE id = ? AND revision = ?")
                .execute(arguments: [stored.revision, data, entity.id, entity.revision])
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreError.duplicate(stored, databaseMessage: error.message ?? "")
        }
        if db.changesCount == 1 { return stored }
        guard let revision = try Int.fetchOne(db.cachedStatement(sql: "SELECT revision FROM \"\(table)\" WHERE id = ?"),
                                              arguments: [entity.id]) else {
            throw StoreError.notFound(E.collection, id: entity.id)
        }
        throw StoreError.conflict(E.collection, id: entity.id, expectedRevision: entity.revision, storedRevision: revision)
    }

    /// Deletes a row (at `revision` when given) inside the caller's transaction; returns whether
    /// one was there.
    @discardableResult
    private static func deleteRow(_ collection: EntityCollection, id: String, revision: Int?, in db: Database) throws -> Bool {
        let table = collection.rawValue
        if let revision {
            try db.cachedStatement(sql: "DELETE FROM \"\(table)\" WHERE id = ? AND revision = ?").execute(arguments: [id, revision])
        } else {
            try db.cachedStatement(sql: "DELETE FROM \"\(table)\" WHERE id = ?").execute(arguments: [id])
        }
        if db.changesCount == 1 { return true }
        guard let stored = try Int.fetchOne(db.cachedStatement(sql: "SELECT revision FROM \"\(table)\" WHERE id = ?"),
                                            arguments: [id]) else {
            return false
        }
        throw StoreError.conflict(collection, id: id, expectedRevision: revision ?? 0, storedRevision: stored)
    }

    public func fetch<E: Entity>(_ type: E.Type, id: String) async throws -> E? {
        let table = E.collection.rawValue
        let documents = self.documents
        return try await reading { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT revision, data FROM \"\(table)\" WHERE id = ?"), arguments: [id])
                .map { try documents.decode(E.self, row: $0) }
        }
    }

    @discardableResult
    public func delete<E: Entity>(_ type: E.Type, id: String, revision: Int?) async throws -> Bool {
        try await writing { db in try Self.deleteRow(E.collection, id: id, revision: revision, in: db) }
    }

    @discardableResult
    public func deleteAll<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int {
        let condition = SQLiteQuery(filter)
        return try await writing { db in
            try db.execute(sql: "DELETE FROM \"\(E.collection.rawValue)\" WHERE \(condition.sql)", arguments: condition.arguments)
            return db.changesCount
        }
    }

    public func list<E: Entity>(_ type: E.Type, _ query: StoreQuery) async throws -> StorePage<E> {
        let table = E.collection.rawValue
        let condition = SQLiteQuery(query.filter)
        let order = SQLiteQuery.order(query.sort)
        let limit = query.limit.map { " LIMIT \(max(0, $0)) OFFSET \(max(0, query.offset))" }
            ?? (query.offset > 0 ? " LIMIT -1 OFFSET \(query.offset)" : "")
        let documents = self.documents
        return try await reading { db in
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
        return try await reading { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(table)\" WHERE \(condition.sql)", arguments: condition.arguments) ?? 0
        }
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
        return try await reading { db in
            var counts: [EntityCollection: Int] = [:]
            for collection in EntityCollection.allCases {
                counts[collection] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(collection.rawValue)\"") ?? 0
            }
            let version = try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "?"
            let schema = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            return StoreInventory(backend: "SQLite \(version)", location: location, identity: self.identity,
                                  schemaVersion: schema, counts: counts)
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
        try decode(type, StoredDocument(row))
    }

    func decode<E: Entity>(_ type: E.Type, _ document: StoredDocument) throws -> E {
        do {
            var entity = try decoder.decode(E.self, from: Data(document.data.utf8))
            entity.revision = document.revision
            return entity
        } catch {
            throw StoreError.undecodable(E.collection, reason: "\(error)")
        }
    }
}

/// A row's document and revision, taken out of the transaction that read it (a `Row` cannot
/// leave it) to be decoded elsewhere.
struct StoredDocument: Sendable {
    let revision: Int
    let data: String

    init(_ row: Row) {
        revision = row["revision"]
        data = row["data"]
    }
}
