import GRDB

/// The SQLite schema: one document table per collection, expression indexes on the fields the
/// managers query, and the SQL of the queue.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: document tables") { db in
            // The collections of version 1; later ones come with their migration.
            for collection in EntityCollection.allCases where ![.accessToken, .userQuota].contains(collection) {
                try createTable(collection, in: db)
            }
            try createIndexes(in: db, upTo: 1)
            try db.execute(sql: waitingIndexSQL)
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        migrator.registerMigration("v2: unique node dockerId") { db in
            // Keep one node per swarm node: a classified one over an unidentified one, else the oldest id.
            try db.execute(sql: """
                DELETE FROM Node WHERE id IN (
                    SELECT n.id FROM Node n JOIN Node o
                    ON json_extract(n.data, '$.dockerId') = json_extract(o.data, '$.dockerId') AND n.id <> o.id
                    WHERE (json_extract(n.data, '$.kind') = 'UNIDENTIFIED' AND json_extract(o.data, '$.kind') <> 'UNIDENTIFIED')
                       OR ((json_extract(n.data, '$.kind') = 'UNIDENTIFIED') = (json_extract(o.data, '$.kind') = 'UNIDENTIFIED')
                           AND n.id > o.id))
                """)
            try db.execute(sql: "DROP INDEX IF EXISTS Node_dockerId")
            try db.execute(sql: "CREATE UNIQUE INDEX Node_dockerId ON Node (json_extract(data, '$.dockerId'))")
            try db.execute(sql: "PRAGMA user_version = 2")
        }
        migrator.registerMigration("v3: queue listing indexes") { db in
            try createIndexes(in: db, upTo: 3)
            try db.execute(sql: "PRAGMA user_version = 3")
        }
        migrator.registerMigration("v4: unique connection pair") { db in
            // Connections stored before carry no pair: fill it from the endpoints (the model's rule).
            try db.execute(sql: """
                UPDATE Connection SET data = json_set(data, '$.pair',
                    min(json_extract(data, '$.endpoint1.processId') || ' ' || json_extract(data, '$.endpoint1.interfaceId'),
                        json_extract(data, '$.endpoint2.processId') || ' ' || json_extract(data, '$.endpoint2.interfaceId'))
                    || ' | ' ||
                    max(json_extract(data, '$.endpoint1.processId') || ' ' || json_extract(data, '$.endpoint1.interfaceId'),
                        json_extract(data, '$.endpoint2.processId') || ' ' || json_extract(data, '$.endpoint2.interfaceId')))
                WHERE json_extract(data, '$.pair') IS NULL
                """)
            try createIndexes(in: db, upTo: 4)
            try db.execute(sql: "PRAGMA user_version = 4")
        }
        migrator.registerMigration("v5: access tokens") { db in
            try createTable(.accessToken, in: db)
            try createIndexes(in: db, upTo: 5)
            try db.execute(sql: "PRAGMA user_version = 5")
        }
        migrator.registerMigration("v6: provisional connections, stamped tokens") { db in
            // An older defpi would tell the sides of a provisional connection, and its tokens
            // carry no password stamp (they count for nothing now): it must not open this store.
            try db.execute(sql: "DELETE FROM AccessToken WHERE json_extract(data, '$.passwordStamp') IS NULL")
            try db.execute(sql: "PRAGMA user_version = 6")
        }
        migrator.registerMigration("v7: store identity") { db in
            try db.execute(sql: "CREATE TABLE defpiMeta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
            try db.execute(sql: "INSERT INTO defpiMeta (key, value) VALUES ('identity', ?)", arguments: [ObjectID.generate()])
            try db.execute(sql: "PRAGMA user_version = 7")
        }
        migrator.registerMigration("v8: user quotas; unique process names per user, unique pool names") { db in
            try createTable(.userQuota, in: db)
            // Names made twice by creations at the same time (a read-then-write check before):
            // the younger ones get their id's end appended, so the unique indexes can be made.
            for (table, scope) in [("Process", "AND json_extract(p.data, '$.userId') = json_extract(o.data, '$.userId')"), ("NodePool", "")] {
                try db.execute(sql: """
                    UPDATE "\(table)" SET data = json_set(data, '$.name', json_extract(data, '$.name') || '-' || substr(id, 19))
                    WHERE id IN (SELECT p.id FROM "\(table)" p JOIN "\(table)" o
                                 ON json_extract(p.data, '$.name') = json_extract(o.data, '$.name') \(scope) AND p.id > o.id)
                    """)
            }
            try createIndexes(in: db, upTo: 8)
            try db.execute(sql: "PRAGMA user_version = 8")
        }
        return migrator
    }

    /// Migrates the store to the current schema. Two engines that open a new file at once both
    /// find it unmigrated, and the second's next migration fails (its table exists, or its
    /// record does). Each migration commits with its record in one transaction, so after such a
    /// failure migrating again goes on from where the other engine got. A failure while no one
    /// else migrated is a real one, and is thrown.
    static func migrate(_ pool: DatabasePool) throws {
        let migrator = migrator
        var applied = try pool.read(migrator.appliedIdentifiers)
        while true {
            do {
                return try migrator.migrate(pool)
            } catch let error as DatabaseError {
                let now = try pool.read(migrator.appliedIdentifiers)
                guard now.isStrictSuperset(of: applied) else { throw error }
                SQLiteStore.logger.debug("another engine migrated the store meanwhile (\(error.message ?? "")); going on from there")
                applied = now
            }
        }
    }

    /// The store's identity (made by migration v7).
    static func identity(in db: Database) throws -> String {
        guard let identity = try String.fetchOne(db, sql: "SELECT value FROM defpiMeta WHERE key = 'identity'") else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "the store has no identity (defpiMeta)")
        }
        return identity
    }

    /// The table of one collection: a JSON document per row, beside its id and revision.
    private static func createTable(_ collection: EntityCollection, in db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE "\(collection.rawValue)" (
                id TEXT PRIMARY KEY NOT NULL,
                revision INTEGER NOT NULL,
                data TEXT NOT NULL CHECK (json_valid(data)))
            """)
    }

    /// Creates the indexes of schema `version` and before, of the tables that exist so far (a
    /// migration's tables come with it).
    private static func createIndexes(in db: Database, upTo version: Int) throws {
        for index in StoreIndex.all where index.inSQLite && index.since <= version {
            if try db.tableExists(index.collection.rawValue) { try create(index, in: db) }
        }
    }

    /// Creates `index` unless it exists. Unique indexes end at the field; the others end with the
    /// id, so matches come out in id order.
    private static func create(_ index: StoreIndex, in db: Database) throws {
        let expressions = (index.fields.map { SQLiteQuery.expression(StoreField(stringLiteral: $0)) }
            + (index.unique ? [] : ["id"])).joined(separator: ", ")
        try db.execute(sql: """
            CREATE \(index.unique ? "UNIQUE " : "")INDEX IF NOT EXISTS "\(index.name)" ON "\(index.collection.rawValue)" (\(expressions))
            """)
    }

    /// Resources of changes whose lease is still valid at `?` (epoch ms).
    static let leasedResourcesSQL = """
        SELECT DISTINCT r.value FROM PendingChange p, json_each(p.data, '$.resources') r
        WHERE json_extract(p.data, '$.state') = 'RUNNING' AND json_extract(p.data, '$.leaseExpiry') > ?
        """

    /// Changes waiting to run, in due order: the queue's partial index.
    static let waitingIndexSQL = """
        CREATE INDEX PendingChange_waiting ON PendingChange (json_extract(data, '$.runAt'), id)
        WHERE json_extract(data, '$.state') IN ('NEW', 'FAILED_TEMPORARY')
        """

    /// What a leasable change must also satisfy: no resource in the JSON array `?2`, a kind in
    /// the JSON array `?3`, and the id `?4` unless it is NULL.
    private static let leasableSQL = """
          AND NOT EXISTS (SELECT 1 FROM json_each(data, '$.resources') r WHERE r.value IN (SELECT value FROM json_each(?2)))
          AND json_extract(data, '$.type') IN (SELECT value FROM json_each(?3))
          AND (?4 IS NULL OR id = ?4)
        ORDER BY json_extract(data, '$.runAt'), id LIMIT 1
        """

    /// The earliest change due at `?1` (epoch ms), waiting, and leasable (see `leasableSQL`).
    /// Walks `PendingChange_waiting` in due order and stops at the first that fits.
    static let dueChangeSQL = """
        SELECT id, revision, data, json_extract(data, '$.runAt') AS runAt FROM PendingChange INDEXED BY PendingChange_waiting
        WHERE json_extract(data, '$.state') IN ('NEW', 'FAILED_TEMPORARY') AND json_extract(data, '$.runAt') <= ?1
        """ + leasableSQL

    /// Leases the change `?4` to owner `?1` until `?2` at `?3` (epoch ms), counting the attempt,
    /// and returns its new row. Done in SQL so the writer never decodes the document.
    static let leaseSQL = """
        UPDATE PendingChange SET revision = revision + 1, data = json_set(data,
            '$.state', 'RUNNING', '$.leaseOwner', ?1, '$.leaseExpiry', ?2, '$.count', json_extract(data, '$.count') + 1,
            '$.updated', ?3)
        WHERE id = ?4 RETURNING revision, data
        """

    /// The earliest change whose lease expired at `?1`, and leasable (see `leasableSQL`).
    static let expiredLeaseSQL = """
        SELECT id, revision, data, json_extract(data, '$.runAt') AS runAt FROM PendingChange
        WHERE json_extract(data, '$.state') = 'RUNNING' AND json_extract(data, '$.leaseExpiry') <= ?1
        """ + leasableSQL
}

/// A `StoreFilter` as a SQL condition with its arguments.
struct SQLiteQuery {
    private(set) var sql = ""
    private(set) var arguments = StatementArguments()

    init(_ filter: StoreFilter) {
        sql = render(filter)
    }

    /// The SQL expression of a field: a column for `id` and `revision`, `json_extract` otherwise.
    static func expression(_ field: StoreField) -> String {
        switch field.path {
        case "id", "revision": return field.path
        default: return "json_extract(data, '$.\(field.path)')"
        }
    }

    /// The ORDER BY of `sort`, ending with the id (ascending, unless the sort names it) so pages are stable.
    static func order(_ sort: [StoreSort]) -> String {
        let keys = sort.map { "\(expression($0.field)) \($0.ascending ? "ASC" : "DESC")" }
        return (sort.contains { $0.field.path == "id" } ? keys : keys + ["id ASC"]).joined(separator: ", ")
    }

    private mutating func bind(_ value: StoreValue) -> String {
        switch value {
        case .string(let text): _ = arguments.append(contentsOf: [text])
        case .int(let number): _ = arguments.append(contentsOf: [number])
        case .bool(let flag): _ = arguments.append(contentsOf: [flag ? 1 : 0])
        case .date(let date): _ = arguments.append(contentsOf: [date.epochMilliseconds])
        }
        return "?"
    }

    private mutating func render(_ filter: StoreFilter) -> String {
        switch filter {
        case .all:
            return "1"
        case .equals(let field, let value):
            return "\(Self.expression(field)) = \(bind(value))"
        case .isNull(let field):
            return "\(Self.expression(field)) IS NULL"
        case .isIn(let field, let values):
            guard !values.isEmpty else { return "0" }
            return "\(Self.expression(field)) IN (\(values.map { bind($0) }.joined(separator: ", ")))"
        case .contains(let field, let value):
            return "EXISTS (SELECT 1 FROM json_each(data, '$.\(field.path)') WHERE value = \(bind(value)))"
        case .lessThan(let field, let value):
            return "\(Self.expression(field)) < \(bind(value))"
        case .greaterThan(let field, let value):
            return "\(Self.expression(field)) > \(bind(value))"
        case .and(let filters):
            guard !filters.isEmpty else { return "1" }
            return "(" + filters.map { render($0) }.joined(separator: " AND ") + ")"
        case .or(let filters):
            guard !filters.isEmpty else { return "0" }
            return "(" + filters.map { render($0) }.joined(separator: " OR ") + ")"
        case .not(let inner):
            return "NOT (\(render(inner)))"
        }
    }
}
