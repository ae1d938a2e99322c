import CMongoc
import Dispatch
import Foundation
import Logging

/// The MongoDB store, through libmongoc: the original dEF-Pi's collections (`User`, `NodePool`,
/// `Process`, `Connection`, `PendingChange`, plus `Node`, `AuditEvent`), the indexes it lacked,
/// a `revision` field for optimistic versioning, and a `PendingChangeLock` collection whose unique
/// `_id`s keep two changes that share a resource from running at once, across Engines.
public final class MongoStore: Store, @unchecked Sendable {
    public let location: String
    private let pool: OpaquePointer
    private let uri: OpaquePointer
    private let databaseName: String
    /// libmongoc blocks; its calls run here, off the cooperative thread pool.
    private let queue = DispatchQueue(label: "defpi.mongo", attributes: .concurrent)

    private static let initialized: Bool = {
        mongoc_init()
        // libmongoc logs to stderr by default, which would draw over the console: route it to swift-log.
        mongoc_log_set_handler({ level, domain, message, _ in
            let text = "\(domain.map { String(cString: $0) } ?? "mongoc"): \(message.map { String(cString: $0) } ?? "")"
            switch level {
            case MONGOC_LOG_LEVEL_ERROR, MONGOC_LOG_LEVEL_CRITICAL: MongoStore.logger.error("\(text)")
            case MONGOC_LOG_LEVEL_WARNING: MongoStore.logger.warning("\(text)")
            default: MongoStore.logger.trace("\(text)")
            }
        }, nil)
        return true
    }()

    private static let logger = Logger(label: "defpi.store.mongo")

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
        try prepare()
    }

    deinit {
        mongoc_client_pool_destroy(pool)
        mongoc_uri_destroy(uri)
    }

    // MARK: Plumbing

    /// Runs blocking libmongoc work with a pooled client on the store's queue.
    private func run<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.withClient(body) })
            }
        }
    }

    private func withClient<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        let client = mongoc_client_pool_pop(pool)!
        defer { mongoc_client_pool_push(pool, client) }
        return try body(client)
    }

    private func withCollection<T>(_ client: OpaquePointer, _ name: String, _ body: (OpaquePointer) throws -> T) rethrows -> T {
        let collection = mongoc_client_get_collection(client, databaseName, name)!
        defer { mongoc_collection_destroy(collection) }
        return try body(collection)
    }

    private func failure(_ error: bson_error_t) -> StoreError {
        if error.domain == MONGOC_ERROR_SERVER_SELECTION.rawValue || error.domain == MONGOC_ERROR_STREAM.rawValue {
            let hosts = MongoURI.hosts(uri)
            return .unreachable(location: location, reason: "no answer from \(hosts) (\(error.text))")
        }
        return .backend(location: location, message: error.text)
    }

    private static let duplicateKeyCode: UInt32 = 11000

    /// Checks the server answers and the schema version, then ensures the indexes.
    private func prepare() throws {
        try withClient { client in
            var error = bson_error_t()
            let ping = BSONDocument()
            ping.append("ping", int32: 1)
            guard mongoc_client_command_simple(client, "admin", ping.pointer, nil, nil, &error) else { throw failure(error) }

            let found = try withCollection(client, "defpiMeta") { meta -> Int64 in
                let filter = BSONDocument()
                filter.append("_id", .string("schema"))
                return try findDocuments(meta, filter: filter, options: nil).first?.integer("version") ?? 0
            }
            guard found <= Int64(StoreSchema.currentVersion) else {
                throw StoreError.newerSchema(location: location, found: Int(found), supported: StoreSchema.currentVersion)
            }
            for collection in EntityCollection.allCases {
                let indexes = StoreIndex.all.filter { $0.collection == collection }
                guard !indexes.isEmpty else { continue }
                let command = BSONDocument()
                command.append("createIndexes", .string(collection.rawValue))
                command.append("indexes", array: indexes.map { index in
                    let spec = BSONDocument()
                    let keys = BSONDocument()
                    for field in index.fields { keys.append(field, int32: 1) }
                    spec.append("key", document: keys)
                    spec.append("name", .string(index.name))
                    if index.unique { spec.append("unique", .bool(true)) }
                    return spec
                })
                guard mongoc_client_command_simple(client, databaseName, command.pointer, nil, nil, &error) else {
                    throw failure(error)
                }
            }
            if found < Int64(StoreSchema.currentVersion) {
                try withCollection(client, "defpiMeta") { meta in
                    let filter = BSONDocument()
                    filter.append("_id", .string("schema"))
                    let replacement = BSONDocument()
                    replacement.append("_id", .string("schema"))
                    replacement.append("version", .int(Int64(StoreSchema.currentVersion)))
                    let options = BSONDocument()
                    options.append("upsert", .bool(true))
                    guard mongoc_collection_replace_one(meta, filter.pointer, replacement.pointer, options.pointer, nil, &error) else {
                        throw failure(error)
                    }
                }
            }
        }
    }

    private func findDocuments(_ collection: OpaquePointer, filter: BSONDocument, options: BSONDocument?) throws -> [BSONDocument] {
        let cursor = mongoc_collection_find_with_opts(collection, filter.pointer, options?.pointer, nil)!
        defer { mongoc_cursor_destroy(cursor) }
        var results: [BSONDocument] = []
        var document: OpaquePointer?
        while mongoc_cursor_next(cursor, &document) {
            results.append(BSONDocument(copying: document!))
        }
        var error = bson_error_t()
        if mongoc_cursor_error(cursor, &error) { throw failure(error) }
        return results
    }

    /// Replaces the document `id` at `revision`; returns the number of documents matched (0 or 1).
    private func replace(_ collection: OpaquePointer, id: String, revision: Int, with document: BSONDocument) throws -> Int64 {
        let filter = BSONDocument()
        filter.append("_id", .string(id), objectID: true)
        filter.append("revision", .int(Int64(revision)))
        let reply = BSONDocument()
        var error = bson_error_t()
        guard mongoc_collection_replace_one(collection, filter.pointer, document.pointer, nil, reply.pointer, &error) else {
            throw error.code == Self.duplicateKeyCode ? BSONError(message: error.text) : failure(error)
        }
        return reply.integer("matchedCount") ?? 0
    }

    private func storedRevision(_ collection: OpaquePointer, id: String) throws -> Int? {
        let filter = BSONDocument()
        filter.append("_id", .string(id), objectID: true)
        return try findDocuments(collection, filter: filter, options: nil).first?.integer("revision").map(Int.init)
    }

    // MARK: Documents

    public func insert<E: Entity>(_ entity: E) async throws -> E {
        let stored = entity.atRevision(1)
        let document = try BSONMapping.document(for: stored)
        try await run { client in
            try self.withCollection(client, E.collection.rawValue) { collection in
                var error = bson_error_t()
                guard mongoc_collection_insert_one(collection, document.pointer, nil, nil, &error) else {
                    if error.code == Self.duplicateKeyCode { throw StoreError.duplicate(stored, databaseMessage: error.text) }
                    throw self.failure(error)
                }
            }
        }
        return stored
    }

    public func update<E: Entity>(_ entity: E) async throws -> E {
        let stored = entity.atRevision(entity.revision + 1)
        let document = try BSONMapping.document(for: stored)
        try await run { client in
            try self.withCollection(client, E.collection.rawValue) { collection in
                let matched: Int64
                do {
                    matched = try self.replace(collection, id: entity.id, revision: entity.revision, with: document)
                } catch let error as BSONError {
                    throw StoreError.duplicate(stored, databaseMessage: error.message)
                }
                guard matched == 0 else { return }
                guard let current = try self.storedRevision(collection, id: entity.id) else {
                    throw StoreError.notFound(E.collection, id: entity.id)
                }
                throw StoreError.conflict(E.collection, id: entity.id, expectedRevision: entity.revision, storedRevision: current)
            }
        }
        return stored
    }

    public func fetch<E: Entity>(_ type: E.Type, id: String) async throws -> E? {
        try await list(type, StoreQuery(filter: .equals("id", .string(id)), limit: 1)).items.first
    }

    @discardableResult
    public func delete<E: Entity>(_ type: E.Type, id: String, revision: Int?) async throws -> Bool {
        try await run { client in
            try self.withCollection(client, E.collection.rawValue) { collection in
                let filter = BSONDocument()
                filter.append("_id", .string(id), objectID: true)
                if let revision { filter.append("revision", .int(Int64(revision))) }
                let reply = BSONDocument()
                var error = bson_error_t()
                guard mongoc_collection_delete_one(collection, filter.pointer, nil, reply.pointer, &error) else {
                    throw self.failure(error)
                }
                if reply.integer("deletedCount") == 1 { return true }
                guard let current = try self.storedRevision(collection, id: id) else { return false }
                throw StoreError.conflict(E.collection, id: id, expectedRevision: revision ?? 0, storedRevision: current)
            }
        }
    }

    public func list<E: Entity>(_ type: E.Type, _ query: StoreQuery) async throws -> StorePage<E> {
        try await run { client in
            try self.withCollection(client, E.collection.rawValue) { collection in
                let filter = BSONMapping.query(query.filter)
                let options = BSONDocument()
                let sort = BSONDocument()
                for key in query.sort { sort.append(key.field.path == "id" ? "_id" : key.field.path, int32: key.ascending ? 1 : -1) }
                if !query.sort.contains(where: { $0.field.path == "id" }) { sort.append("_id", int32: 1) }
                options.append("sort", document: sort)
                if query.offset > 0 { options.append("skip", .int(Int64(query.offset))) }
                if let limit = query.limit { options.append("limit", .int(Int64(max(0, limit)))) }
                let documents = query.limit == 0 ? [] : try self.findDocuments(collection, filter: filter, options: options)
                let items = try documents.map { try BSONMapping.entity(E.self, from: $0.pointer) }
                let total: Int
                if query.offset == 0 && (query.limit == nil || items.count < query.limit!) {
                    total = items.count
                } else {
                    total = try self.countDocuments(collection, filter: filter)
                }
                return StorePage(items: items, total: total)
            }
        }
    }

    private func countDocuments(_ collection: OpaquePointer, filter: BSONDocument) throws -> Int {
        var error = bson_error_t()
        let count = mongoc_collection_count_documents(collection, filter.pointer, nil, nil, nil, &error)
        guard count >= 0 else { throw failure(error) }
        return Int(count)
    }

    public func count<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int {
        try await run { client in
            try self.withCollection(client, E.collection.rawValue) { collection in
                try self.countDocuments(collection, filter: BSONMapping.query(filter))
            }
        }
    }

    // MARK: Queue

    private static let lockCollection = "PendingChangeLock"
    private static let dueChangesPage = 64

    public func leaseNextChange(owner: String, leaseUntil: Date, now: Date) async throws -> PendingChange? {
        try await run { client in
            try self.withCollection(client, EntityCollection.pendingChange.rawValue) { changes in
                try self.withCollection(client, Self.lockCollection) { locks in
                    let due = BSONMapping.query(.or([
                        .and([.isIn("state", [.string("NEW"), .string("FAILED_TEMPORARY")]), .not(.greaterThan("runAt", .date(now)))]),
                        .and([.equals("state", .string("RUNNING")), .not(.greaterThan("leaseExpiry", .date(now)))]),
                    ]))
                    var offset = 0
                    while true {
                        let options = BSONDocument()
                        let sort = BSONDocument()
                        sort.append("runAt", int32: 1)
                        sort.append("_id", int32: 1)
                        options.append("sort", document: sort)
                        options.append("skip", .int(Int64(offset)))
                        options.append("limit", .int(Int64(Self.dueChangesPage)))
                        let page = try self.findDocuments(changes, filter: due, options: options)
                        for document in page {
                            var change = try BSONMapping.entity(PendingChange.self, from: document.pointer)
                            guard try self.lock(change, owner: owner, until: leaseUntil, now: now, in: locks) else { continue }
                            let read = change
                            change.state = .running
                            change.leaseOwner = owner
                            change.leaseExpiry = leaseUntil
                            change.count += 1
                            change.updated = now
                            change.revision += 1
                            if try self.replace(changes, id: change.id, revision: read.revision, with: BSONMapping.document(for: change)) == 1 {
                                return change
                            }
                            try self.unlock(changeId: change.id, in: locks)
                        }
                        guard page.count == Self.dueChangesPage else { return nil }
                        offset += page.count
                    }
                }
            }
        }
    }

    /// Takes the lock of every resource of `change` for it, or none of them. An expired lock, or
    /// one left by an earlier lease of the same change, is taken over.
    private func lock(_ change: PendingChange, owner: String, until: Date, now: Date, in locks: OpaquePointer) throws -> Bool {
        var taken: [String] = []
        for resource in Set(change.resources).sorted() {
            let lock = BSONDocument()
            lock.append("_id", .string(resource))
            lock.append("changeId", .string(change.id))
            lock.append("owner", .string(owner))
            lock.append("expiry", .date(until))
            var error = bson_error_t()
            if mongoc_collection_insert_one(locks, lock.pointer, nil, nil, &error) {
                taken.append(resource)
                continue
            }
            guard error.code == Self.duplicateKeyCode else { throw failure(error) }
            let stale = BSONMapping.query(.and([
                .equals("id", .string(resource)),
                .or([.not(.greaterThan("expiry", .date(now))), .equals("changeId", .string(change.id))]),
            ]))
            let reply = BSONDocument()
            guard mongoc_collection_replace_one(locks, stale.pointer, lock.pointer, nil, reply.pointer, &error) else { throw failure(error) }
            if reply.integer("matchedCount") == 1 {
                taken.append(resource)
            } else {
                for resource in taken { try deleteLock(resource, changeId: change.id, in: locks) }
                return false
            }
        }
        return true
    }

    private func deleteLock(_ resource: String, changeId: String, in locks: OpaquePointer) throws {
        let filter = BSONMapping.query(.and([.equals("id", .string(resource)), .equals("changeId", .string(changeId))]))
        var error = bson_error_t()
        guard mongoc_collection_delete_one(locks, filter.pointer, nil, nil, &error) else { throw failure(error) }
    }

    private func unlock(changeId: String, in locks: OpaquePointer) throws {
        let filter = BSONMapping.query(.equals("changeId", .string(changeId)))
        var error = bson_error_t()
        guard mongoc_collection_delete_many(locks, filter.pointer, nil, nil, &error) else { throw failure(error) }
    }

    public func renewLease(changeId: String, owner: String, leaseUntil: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner) { change, locks in
            change.leaseExpiry = leaseUntil
            let filter = BSONMapping.query(.equals("changeId", .string(changeId)))
            let update = BSONDocument()
            let set = BSONDocument()
            set.append("expiry", .date(leaseUntil))
            update.append("$set", document: set)
            var error = bson_error_t()
            guard mongoc_collection_update_many(locks, filter.pointer, update.pointer, nil, nil, &error) else {
                throw self.failure(error)
            }
        }
    }

    public func finishChange(changeId: String, owner: String, now: Date) async throws -> PendingChange {
        try await modifyLeased(changeId: changeId, owner: owner, releasing: true) { change, _ in
            change.release(to: .finished, at: now)
        }
    }

    public func failChange(changeId: String, owner: String, error: String, retryAt: Date?, now: Date) async throws
        -> PendingChange
    {
        try await modifyLeased(changeId: changeId, owner: owner, releasing: true) { change, _ in
            change.recordFailure(error, retryAt: retryAt, now: now)
        }
    }

    /// Applies `modify` to a change this owner leases, then writes it back (compare-and-set on
    /// its revision); with `releasing`, drops its resource locks afterwards.
    private func modifyLeased(changeId: String, owner: String, releasing: Bool = false,
                              _ modify: @escaping @Sendable (inout PendingChange, OpaquePointer) throws -> Void)
        async throws -> PendingChange
    {
        try await run { client in
            try self.withCollection(client, EntityCollection.pendingChange.rawValue) { changes in
                try self.withCollection(client, Self.lockCollection) { locks in
                    let filter = BSONMapping.query(.equals("id", .string(changeId)))
                    guard let document = try self.findDocuments(changes, filter: filter, options: nil).first else {
                        throw StoreError.leaseLost(changeId: changeId, owner: owner)
                    }
                    var change = try BSONMapping.entity(PendingChange.self, from: document.pointer)
                    guard change.state == .running, change.leaseOwner == owner else {
                        throw StoreError.leaseLost(changeId: changeId, owner: owner)
                    }
                    let read = change
                    try modify(&change, locks)
                    change.revision += 1
                    guard try self.replace(changes, id: changeId, revision: read.revision, with: BSONMapping.document(for: change)) == 1 else {
                        throw StoreError.leaseLost(changeId: changeId, owner: owner)
                    }
                    if releasing { try self.unlock(changeId: changeId, in: locks) }
                    return change
                }
            }
        }
    }

    public func inventory() async throws -> StoreInventory {
        try await run { client in
            var counts: [EntityCollection: Int] = [:]
            for collection in EntityCollection.allCases {
                counts[collection] = try self.withCollection(client, collection.rawValue) { try self.countDocuments($0, filter: BSONDocument()) }
            }
            var error = bson_error_t()
            let command = BSONDocument()
            command.append("buildInfo", int32: 1)
            let reply = BSONDocument()
            let version = mongoc_client_command_simple(client, "admin", command.pointer, nil, reply.pointer, &error)
                ? reply.string("version") ?? "?" : "?"
            return StoreInventory(backend: "MongoDB \(version) (database \(self.databaseName))", location: self.location,
                                  schemaVersion: StoreSchema.currentVersion, counts: counts)
        }
    }
}

/// Helpers for MongoDB connection strings.
public enum MongoURI {
    /// `uri` with the password replaced by `***`.
    public static func redacted(_ uri: String) -> String {
        guard let scheme = uri.range(of: "://"), let at = uri[scheme.upperBound...].firstIndex(of: "@") else { return uri }
        let credentials = uri[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return uri }
        return String(uri[..<uri.index(after: colon)]) + "***" + String(uri[at...])
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
