import CMongoc
import Dispatch
import Foundation
import Logging

/// The MongoDB store, through libmongoc: the original dEF-Pi's collections (`User`, `NodePool`,
/// `Process`, `Connection`, `PendingChange`) plus `Node` and `AuditEvent`, the indexes the
/// original lacked, a `revision` field for optimistic versioning, and a `PendingChangeLock`
/// collection whose unique `_id`s keep two changes that share a resource from running at once,
/// across Engines.
public final class MongoStore: Store, @unchecked Sendable {
    public let location: String
    /// Set once, by `init`.
    public private(set) var identity = ""
    private let pool: OpaquePointer
    private let uri: OpaquePointer
    private let databaseName: String

    static let logger = Logger(label: "defpi.store.mongo")
    private static let initialized: Bool = {
        // libmongoc logs to stderr by default, which would draw over the console and add lines to
        // a verb's one-line error. Every failure it logs also comes back as a bson_error_t that
        // becomes a StoreError, so its log is debug detail; set before mongoc_init, which logs too.
        mongoc_log_set_handler({ _, domain, message, _ in
            MongoStore.logger.debug("\(domain.map { String(cString: $0) } ?? "mongoc"): \(message.map { String(cString: $0) } ?? "")")
        }, nil)
        // No shared-memory performance counters (a /dev/shm segment per process, left behind by
        // every killed defpi, and a warning when one cannot be made): nothing of defpi reads them.
        setenv("MONGOC_DISABLE_SHM", "1", 1)
        mongoc_init()
        return true
    }()

    /// Connects to the server named by `uri` (within 5 s unless the URI sets its own timeouts),
    /// refuses a store written by a newer defpi, and ensures the indexes.
    public init(uri text: String) throws {
        _ = Self.initialized
        location = MongoURI.redacted(text)
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(text, &error) else {
            throw StoreError.invalidLocation(location, reason: error.text)
        }
        if mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0) == 0 {
            mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 4000)
        }
        if mongoc_uri_get_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 0) == 0 {
            mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000)
        }
        guard let pool = mongoc_client_pool_new(uri) else {
            mongoc_uri_destroy(uri)
            throw StoreError.invalidLocation(location, reason: "libmongoc refused the URI")
        }
        mongoc_client_pool_set_error_api(pool, 2)
        self.uri = uri
        self.pool = pool
        databaseName = mongoc_uri_get_database(uri).map { String(cString: $0) } ?? "def-pi"
        identity = try withClient { client in
            try prepare(client)
            return try storedIdentity(client)
        }
    }

    deinit {
        mongoc_client_pool_destroy(pool)
        mongoc_uri_destroy(uri)
    }

    // MARK: Plumbing

    /// Runs blocking libmongoc work with a pooled client, off the cooperative thread pool. Each
    /// call gets a serial queue of its own, which libdispatch serves from its overcommitting pool:
    /// a call waiting on a slow server never holds up other work (a shared concurrent queue
    /// would, since a blocked thread counts against the cores there).
    func run<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "defpi.mongo.call").async {
                continuation.resume(with: Result { try self.withClient(body) })
            }
        }
    }

    /// Runs blocking work on one collection of this store's database.
    func run<T: Sendable>(on name: String, _ body: @escaping @Sendable (MongoCollection) throws -> T) async throws -> T {
        try await run { client in try self.withCollection(client, name, body) }
    }

    private func withClient<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        let client = mongoc_client_pool_pop(pool)!
        defer { mongoc_client_pool_push(pool, client) }
        return try body(client)
    }

    func withCollection<T>(_ client: OpaquePointer, _ name: String, _ body: (MongoCollection) throws -> T) rethrows -> T {
        let handle = mongoc_client_get_collection(client, databaseName, name)!
        defer { mongoc_collection_destroy(handle) }
        return try body(MongoCollection(handle: handle, failure: failure))
    }

    private func command(_ client: OpaquePointer, database: String, _ command: BSONDocument) throws -> BSONDocument {
        let reply = BSONDocument()
        var error = bson_error_t()
        let succeeded = withExtendedLifetime((command, reply)) {
            mongoc_client_command_simple(client, database, command.pointer, nil, reply.pointer, &error)
        }
        guard succeeded else { throw failure(error) }
        return reply
    }

    private func failure(_ error: bson_error_t) -> StoreError {
        if error.domain == MONGOC_ERROR_SERVER_SELECTION.rawValue || error.domain == MONGOC_ERROR_STREAM.rawValue {
            return .unreachable(location: location, reason: "no answer from \(MongoURI.hosts(uri)) (\(error.text))")
        }
        return .backend(location: location, message: error.text)
    }

    private static let schemaKey = BSONMapping.query(.equals("id", .string("schema")))

    /// Checks the server answers and the schema version, then ensures the indexes.
    private func prepare(_ client: OpaquePointer) throws {
        let ping = BSONDocument()
        ping.append("ping", int32: 1)
        _ = try command(client, database: "admin", ping)

        let found = try withCollection(client, "defpiMeta") { try $0.find(Self.schemaKey).first?.integer("version") } ?? 0
        guard found <= Int64(StoreSchema.currentVersion) else {
            throw StoreError.newerSchema(location: location, found: Int(found), supported: StoreSchema.currentVersion)
        }
        if found == 1 {
            // Version 2 made Node_dockerId unique: the old index goes, the loop below recreates it.
            let drop = BSONDocument()
            drop.append("dropIndexes", .string(EntityCollection.node.rawValue))
            drop.append("index", .string("Node_dockerId"))
            _ = try? command(client, database: databaseName, drop)
        }
        for collection in EntityCollection.allCases {
            let indexes = StoreIndex.all.filter { $0.collection == collection }
            guard !indexes.isEmpty else { continue }
            let create = BSONDocument()
            create.append("createIndexes", .string(collection.rawValue))
            create.append("indexes", array: indexes.map { index in
                let keys = BSONDocument()
                for field in index.fields { keys.append(field, int32: 1) }
                let spec = BSONDocument()
                spec.append("key", document: keys)
                spec.append("name", .string(index.name))
                if index.unique { spec.append("unique", .bool(true)) }
                if index.sparse { spec.append("sparse", .bool(true)) }
                return spec
            })
            _ = try command(client, database: databaseName, create)
        }
        if found < Int64(StoreSchema.currentVersion) {
            let schema = BSONDocument()
            schema.append("_id", .string("schema"))
            schema.append("version", .int(Int64(StoreSchema.currentVersion)))
            _ = try withCollection(client, "defpiMeta") { try $0.replaceOne(Self.schemaKey, with: schema, upsert: true) }
        }
    }

    private static let identityKey = BSONMapping.query(.equals("id", .string("identity")))

    /// The store's identity: the one stored, else a new one (of two engines creating it at once,
    /// the first insert wins and the other reads it).
    private func storedIdentity(_ client: OpaquePointer) throws -> String {
        try withCollection(client, "defpiMeta") { meta in
            if let stored = try meta.find(Self.identityKey).first?.string("value") { return stored }
            let created = BSONDocument()
            created.append("_id", .string("identity"))
            created.append("value", .string(ObjectID.generate()))
            _ = try meta.insert(created)
            guard let stored = try meta.find(Self.identityKey).first?.string("value") else {
                throw StoreError.backend(location: location, message: "the store's identity (defpiMeta) could not be read back")
            }
            return stored
        }
    }

    /// The filter matching document `id` at `revision`.
    static func revisionFilter(id: String, revision: Int?) -> BSONDocument {
        var conditions: [StoreFilter] = [.equals("id", .string(id))]
        if let revision { conditions.append(.equals("revision", .int(Int64(revision)))) }
        return BSONMapping.query(.and(conditions))
    }

    static func storedRevision(_ collection: MongoCollection, id: String) throws -> Int? {
        try collection.find(revisionFilter(id: id, revision: nil)).first?.integer("revision").map(Int.init)
    }

    // MARK: Documents

    public func insert<E: Entity>(_ entity: E) async throws -> E {
        let stored = entity.atRevision(1)
        let document = try BSONMapping.document(for: stored)
        try await run(on: E.collection.rawValue) { collection in
            if case .duplicate(let message) = try collection.insert(document) {
                throw StoreError.duplicate(stored, databaseMessage: message)
            }
        }
        return stored
    }

    public func update<E: Entity>(_ entity: E) async throws -> E {
        let stored = entity.atRevision(entity.revision + 1)
        let document = try BSONMapping.document(for: stored)
        try await run(on: E.collection.rawValue) { collection in
            switch try collection.replaceOne(Self.revisionFilter(id: entity.id, revision: entity.revision), with: document) {
            case .success(1): return
            case .success: break
            case .failure(let duplicate): throw StoreError.duplicate(stored, databaseMessage: duplicate.message)
            }
            guard let current = try Self.storedRevision(collection, id: entity.id) else {
                throw StoreError.notFound(E.collection, id: entity.id)
            }
            throw StoreError.conflict(E.collection, id: entity.id, expectedRevision: entity.revision, storedRevision: current)
        }
        return stored
    }

    public func fetch<E: Entity>(_ type: E.Type, id: String) async throws -> E? {
        try await list(type, StoreQuery(filter: .equals("id", .string(id)), limit: 1)).items.first
    }

    @discardableResult
    public func delete<E: Entity>(_ type: E.Type, id: String, revision: Int?) async throws -> Bool {
        try await deleteDocument(E.collection, id: id, revision: revision)
    }

    /// Deletes one document (at `revision` when given); returns whether one was there.
    private func deleteDocument(_ collection: EntityCollection, id: String, revision: Int?) async throws -> Bool {
        try await run(on: collection.rawValue) { documents in
            if try documents.delete(Self.revisionFilter(id: id, revision: revision)) == 1 { return true }
            guard let current = try Self.storedRevision(documents, id: id) else { return false }
            throw StoreError.conflict(collection, id: id, expectedRevision: revision ?? 0, storedRevision: current)
        }
    }

    public func list<E: Entity>(_ type: E.Type, _ query: StoreQuery) async throws -> StorePage<E> {
        try await run(on: E.collection.rawValue) { collection in
            let filter = BSONMapping.query(query.filter)
            let options = Self.findOptions(sort: query.sort, offset: query.offset, limit: query.limit)
            let documents = query.limit == 0 ? [] : try collection.find(filter, options: options)
            let items = try documents.map { try BSONMapping.entity(E.self, from: $0) }
            let complete = query.offset == 0 && (query.limit == nil || items.count < query.limit!)
            return StorePage(items: items, total: complete ? items.count : try collection.count(filter))
        }
    }

    /// `find` options: the sort keys then `_id` (so pages are stable), skip and limit.
    static func findOptions(sort keys: [StoreSort], offset: Int, limit: Int?) -> BSONDocument {
        let sort = BSONDocument()
        for key in keys { sort.append(key.field.path == "id" ? "_id" : key.field.path, int32: key.ascending ? 1 : -1) }
        if !keys.contains(where: { $0.field.path == "id" }) { sort.append("_id", int32: 1) }
        let options = BSONDocument()
        options.append("sort", document: sort)
        if offset > 0 { options.append("skip", .int(Int64(offset))) }
        if let limit { options.append("limit", .int(Int64(max(0, limit)))) }
        return options
    }

    public func count<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int {
        try await run(on: E.collection.rawValue) { try $0.count(BSONMapping.query(filter)) }
    }

    /// MongoDB runs multi-document transactions only on replica sets, so the writes go in order
    /// and the first failure stops the batch (callers order batches so any prefix is safe).
    public func write(_ batch: StoreBatch) async throws {
        for write in batch.writes {
            switch write {
            case .insert(let entity): _ = try await insert(entity)
            case .update(let entity): _ = try await update(entity)
            case .delete(let collection, let id, let revision):
                _ = try await deleteDocument(collection, id: id, revision: revision)
            }
        }
    }

    @discardableResult
    public func deleteAll<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int {
        try await run(on: E.collection.rawValue) { Int(try $0.delete(BSONMapping.query(filter), many: true)) }
    }

    /// MongoDB has no cheap store-wide change counter (change streams need a replica set).
    public func changeMarker() async throws -> String? { nil }

    public func inventory() async throws -> StoreInventory {
        try await run { client in
            var counts: [EntityCollection: Int] = [:]
            for collection in EntityCollection.allCases {
                counts[collection] = try self.withCollection(client, collection.rawValue) { try $0.count(BSONDocument()) }
            }
            let buildInfo = BSONDocument()
            buildInfo.append("buildInfo", int32: 1)
            let version = (try? self.command(client, database: "admin", buildInfo))?.string("version") ?? "?"
            return StoreInventory(backend: "MongoDB \(version) (database \(self.databaseName))", location: self.location,
                                  identity: self.identity, schemaVersion: StoreSchema.currentVersion, counts: counts)
        }
    }
}

/// Helpers for MongoDB connection strings.
public enum MongoURI {
    /// `uri` with the password replaced by `***`.
    public static func redacted(_ uri: String) -> String {
        URLText.redactingUserInfo(uri)
    }

    /// `host:port` of every host the URI names, comma-separated.
    static func hosts(_ uri: OpaquePointer) -> String {
        var names: [String] = []
        var host = mongoc_uri_get_hosts(uri)
        while let current = host {
            var name = current.pointee.host
            let text = withUnsafeBytes(of: &name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            names.append("\(text):\(current.pointee.port)")
            host = UnsafePointer(current.pointee.next)
        }
        return names.joined(separator: ", ")
    }
}
