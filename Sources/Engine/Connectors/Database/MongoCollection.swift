import CMongoc

/// One collection on a pooled client. Every call keeps its documents alive for the whole C call
/// (Swift may otherwise release a document right after reading its pointer).
struct MongoCollection {
    let handle: OpaquePointer
    /// Turns a libmongoc error into a `StoreError` (the store knows its location).
    let failure: (bson_error_t) -> StoreError

    static let duplicateKeyCode: UInt32 = 11000

    enum InsertOutcome { case inserted, duplicate(message: String) }

    /// Inserts `document`, reporting a unique-index violation as `.duplicate` instead of throwing.
    func insert(_ document: BSONDocument) throws -> InsertOutcome {
        var error = bson_error_t()
        let inserted = withExtendedLifetime(document) { mongoc_collection_insert_one(handle, document.pointer, nil, nil, &error) }
        if inserted { return .inserted }
        if error.code == Self.duplicateKeyCode { return .duplicate(message: error.text) }
        throw failure(error)
    }

    /// Replaces the first document matching `filter`; returns how many matched (0 or 1), or
    /// `.duplicate` when the replacement violates a unique index.
    func replaceOne(_ filter: BSONDocument, with replacement: BSONDocument, upsert: Bool = false) throws -> Result<Int64, DuplicateKey> {
        let options = BSONDocument()
        if upsert { options.append("upsert", .bool(true)) }
        let reply = BSONDocument()
        var error = bson_error_t()
        let replaced = withExtendedLifetime((filter, replacement, options, reply)) {
            mongoc_collection_replace_one(handle, filter.pointer, replacement.pointer, options.pointer, reply.pointer, &error)
        }
        if replaced { return .success(reply.integer("matchedCount") ?? 0) }
        if error.code == Self.duplicateKeyCode { return .failure(DuplicateKey(message: error.text)) }
        throw failure(error)
    }

    /// Applies an update document (`$set` ...) to every match.
    func updateMany(_ filter: BSONDocument, _ update: BSONDocument) throws {
        var error = bson_error_t()
        let updated = withExtendedLifetime((filter, update)) {
            mongoc_collection_update_many(handle, filter.pointer, update.pointer, nil, nil, &error)
        }
        guard updated else { throw failure(error) }
    }

    /// Deletes the first match (`many: false`) or every match; returns how many were deleted.
    @discardableResult
    func delete(_ filter: BSONDocument, many: Bool = false) throws -> Int64 {
        let reply = BSONDocument()
        var error = bson_error_t()
        let deleted = withExtendedLifetime((filter, reply)) {
            many ? mongoc_collection_delete_many(handle, filter.pointer, nil, reply.pointer, &error)
                : mongoc_collection_delete_one(handle, filter.pointer, nil, reply.pointer, &error)
        }
        guard deleted else { throw failure(error) }
        return reply.integer("deletedCount") ?? 0
    }

    /// The documents matching `filter`, with `options` (sort, skip, limit).
    func find(_ filter: BSONDocument, options: BSONDocument? = nil) throws -> [BSONDocument] {
        try withExtendedLifetime((filter, options)) {
            let cursor = mongoc_collection_find_with_opts(handle, filter.pointer, options?.pointer, nil)!
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
    }

    /// The number of documents matching `filter`.
    func count(_ filter: BSONDocument) throws -> Int {
        var error = bson_error_t()
        let count = withExtendedLifetime(filter) {
            mongoc_collection_count_documents(handle, filter.pointer, nil, nil, nil, &error)
        }
        guard count >= 0 else { throw failure(error) }
        return Int(count)
    }
}

/// A write refused by a unique index, with the server's message (which names the index).
struct DuplicateKey: Error {
    let message: String
}
