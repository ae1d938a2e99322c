import CMongoc
import Foundation

// Hand-written: no Swift BSON library is available to this project, so entities travel as JSON
// (the model's own Codable form) and libbson converts JSON to BSON and back. The walkers below
// only rename `id` <-> `_id` (ObjectId) and turn the model's epoch-millisecond dates into native
// BSON dates and back.

/// An owned libbson document.
final class BSONDocument: @unchecked Sendable {
    let pointer: OpaquePointer

    /// An empty document.
    init() {
        pointer = bson_new()
    }

    /// Takes ownership of a document allocated by libbson.
    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// A copy of a document libbson owns (e.g. one a cursor returned).
    init(copying pointer: OpaquePointer) {
        self.pointer = bson_copy(pointer)
    }

    /// Parses canonical or relaxed extended JSON.
    convenience init(json: Data) throws {
        var error = bson_error_t()
        let parsed = json.withUnsafeBytes { bytes in
            bson_new_from_json(bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, &error)
        }
        guard let parsed else { throw BSONError(message: error.text) }
        self.init(owning: parsed)
    }

    deinit { bson_destroy(pointer) }

    /// The document as relaxed extended JSON.
    var json: Data {
        var length = 0
        guard let text = bson_as_relaxed_extended_json(pointer, &length) else { return Data("{}".utf8) }
        defer { bson_free(text) }
        return Data(bytes: text, count: length)
    }

    /// Appends a scalar; with `objectID`, a 24-hex string is stored as an ObjectId (as `_id` is).
    func append(_ key: String, _ value: StoreValue, objectID: Bool = false) {
        let length = Int32(key.utf8.count)
        switch value {
        case .string(let text):
            if objectID, ObjectID.isValid(text) {
                var oid = bson_oid_t()
                bson_oid_init_from_string(&oid, text.lowercased())
                bson_append_oid(pointer, key, length, &oid)
            } else {
                bson_append_utf8(pointer, key, length, text, Int32(text.utf8.count))
            }
        case .int(let number): bson_append_int64(pointer, key, length, number)
        case .bool(let flag): bson_append_bool(pointer, key, length, flag)
        case .date(let date): bson_append_date_time(pointer, key, length, date.epochMilliseconds)
        }
    }

    func appendNull(_ key: String) {
        bson_append_null(pointer, key, Int32(key.utf8.count))
    }

    func append(_ key: String, int32 value: Int32) {
        bson_append_int32(pointer, key, Int32(key.utf8.count), value)
    }

    func append(_ key: String, document: BSONDocument) {
        bson_append_document(pointer, key, Int32(key.utf8.count), document.pointer)
    }

    /// Appends `documents` as an array.
    func append(_ key: String, array documents: [BSONDocument]) {
        let array = BSONDocument()
        for (index, document) in documents.enumerated() { array.append(String(index), document: document) }
        withExtendedLifetime(array) { _ = bson_append_array(pointer, key, Int32(key.utf8.count), array.pointer) }
    }

    /// Appends `values` as an array.
    func append(_ key: String, array values: [StoreValue], objectIDs: Bool = false) {
        let array = BSONDocument()
        for (index, value) in values.enumerated() { array.append(String(index), value, objectID: objectIDs) }
        withExtendedLifetime(array) { _ = bson_append_array(pointer, key, Int32(key.utf8.count), array.pointer) }
    }

    /// The top-level value of `key` as an integer (int32, int64 or double), or nil.
    func integer(_ key: String) -> Int64? {
        guard let iter = BSONIterator(pointer, key: key) else { return nil }
        switch iter.type {
        case BSON_TYPE_INT32, BSON_TYPE_INT64, BSON_TYPE_DOUBLE: return iter.int64
        default: return nil
        }
    }

    /// The top-level value of `key` as a string, or nil.
    func string(_ key: String) -> String? {
        guard let iter = BSONIterator(pointer, key: key), iter.type == BSON_TYPE_UTF8 else { return nil }
        return iter.utf8
    }
}

/// A libbson iterator. `bson_iter_t` is 128-byte aligned, which Swift cannot lay out, so it
/// lives in memory allocated here and is passed around as an opaque pointer.
final class BSONIterator {
    let pointer: OpaquePointer
    private let storage: UnsafeMutableRawPointer

    private init() {
        storage = UnsafeMutableRawPointer.allocate(byteCount: BSONIterator.storageSize, alignment: 128)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: BSONIterator.storageSize)
        pointer = OpaquePointer(storage)
    }

    /// An iterator over the top level of `document`.
    convenience init(_ document: OpaquePointer) {
        self.init()
        bson_iter_init(pointer, document)
    }

    /// An iterator positioned at `key` in `document`, or nil when the key is absent.
    convenience init?(_ document: OpaquePointer, key: String) {
        self.init()
        guard bson_iter_init_find(pointer, document, key) else { return nil }
    }

    /// An iterator over the children of the document or array `parent` is positioned at.
    convenience init(children parent: BSONIterator) {
        self.init()
        bson_iter_recurse(parent.pointer, pointer)
    }

    deinit { storage.deallocate() }

    static let storageSize = 256

    func next() -> Bool { bson_iter_next(pointer) }
    var key: String { String(cString: bson_iter_key(pointer)) }
    var type: bson_type_t { bson_iter_type(pointer) }
    /// The current value as an integer (for int32, int64, double, bool).
    var int64: Int64 { bson_iter_as_int64(pointer) }
    var utf8: String { String(cString: bson_iter_utf8(pointer, nil)) }
    var dateTimeMilliseconds: Int64 { bson_iter_date_time(pointer) }
    /// The current ObjectId as 24 hex digits.
    var objectIDText: String {
        var text = [CChar](repeating: 0, count: 25)
        bson_oid_to_string(bson_iter_oid(pointer), &text)
        return String(decoding: text.prefix(24).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    /// Appends the current value, as it is, to `document` under `key`.
    func appendValue(to document: OpaquePointer, key: String) {
        bson_append_iter(document, key, -1, pointer)
    }
}

/// Storage for a child document or array being appended (`bson_append_document_begin`).
private func withChildStorage(_ body: (OpaquePointer) -> Void) {
    let storage = UnsafeMutableRawPointer.allocate(byteCount: BSONIterator.storageSize, alignment: 128)
    defer { storage.deallocate() }
    body(OpaquePointer(storage))
}

/// libbson refused a document.
struct BSONError: Error {
    let message: String
}

extension bson_error_t {
    /// The message libbson or libmongoc wrote.
    var text: String {
        var copy = self
        return withUnsafeBytes(of: &copy.message) { bytes in
            String(cString: bytes.bindMemory(to: CChar.self).baseAddress!)
        }
    }
}

/// Converts entities to the BSON documents of their collection and back.
enum BSONMapping {
    private static let encoder = ModelCoding.encoder()
    private static let decoder = ModelCoding.decoder()

    /// The entity as a document: `_id` (an ObjectId for 24-hex ids) plus every field, with the
    /// collection's date fields as BSON dates.
    static func document<E: Entity>(for entity: E) throws -> BSONDocument {
        let json: BSONDocument
        do {
            json = try BSONDocument(json: try encoder.encode(entity))
        } catch {
            throw StoreError.invalidEntity(E.collection, reason: "\(error)")
        }
        let result = BSONDocument()
        result.append("_id", .string(entity.id), objectID: true)
        let dateFields = E.collection.dateFields
        withExtendedLifetime((json, result)) {
            let iter = BSONIterator(json.pointer)
            while iter.next() {
                let key = iter.key
                guard key != "id" else { continue }
                let type = iter.type
                if dateFields.contains(key), type == BSON_TYPE_INT32 || type == BSON_TYPE_INT64 || type == BSON_TYPE_DOUBLE {
                    bson_append_date_time(result.pointer, key, -1, iter.int64)
                } else {
                    iter.appendValue(to: result.pointer, key: key)
                }
            }
        }
        return result
    }

    /// The entity a stored document holds. ObjectIds become hex strings and dates epoch
    /// milliseconds at any depth, so documents written by other tools decode too.
    static func entity<E: Entity>(_ type: E.Type, from document: BSONDocument) throws -> E {
        let plain = BSONDocument()
        withExtendedLifetime((document, plain)) { copyPlain(BSONIterator(document.pointer), into: plain.pointer, topLevel: true) }
        do {
            return try decoder.decode(E.self, from: plain.json)
        } catch {
            throw StoreError.undecodable(E.collection, reason: "\(error)")
        }
    }

    private static func copyPlain(_ iter: BSONIterator, into target: OpaquePointer, topLevel: Bool) {
        while iter.next() {
            let key = topLevel && iter.key == "_id" ? "id" : iter.key
            switch iter.type {
            case BSON_TYPE_OID:
                bson_append_utf8(target, key, -1, iter.objectIDText, 24)
            case BSON_TYPE_DATE_TIME:
                bson_append_int64(target, key, -1, iter.dateTimeMilliseconds)
            case BSON_TYPE_DOCUMENT, BSON_TYPE_ARRAY:
                let isArray = iter.type == BSON_TYPE_ARRAY
                let children = BSONIterator(children: iter)
                withChildStorage { nested in
                    if isArray { bson_append_array_begin(target, key, -1, nested) } else { bson_append_document_begin(target, key, -1, nested) }
                    copyPlain(children, into: nested, topLevel: false)
                    if isArray { bson_append_array_end(target, nested) } else { bson_append_document_end(target, nested) }
                }
            default:
                iter.appendValue(to: target, key: key)
            }
        }
    }

    /// A `StoreFilter` as a MongoDB query document.
    static func query(_ filter: StoreFilter) -> BSONDocument {
        let document = BSONDocument()
        appendCondition(filter, to: document)
        return document
    }

    private static func key(_ field: StoreField) -> String {
        field.path == "id" ? "_id" : field.path
    }

    private static func appendCondition(_ filter: StoreFilter, to document: BSONDocument) {
        switch filter {
        case .all:
            break
        case .equals(let field, let value), .contains(let field, let value):
            document.append(key(field), value, objectID: key(field) == "_id")
        case .isNull(let field):
            document.appendNull(key(field))
        case .isIn(let field, let values):
            let operand = BSONDocument()
            operand.append("$in", array: values, objectIDs: key(field) == "_id")
            document.append(key(field), document: operand)
        case .lessThan(let field, let value):
            let operand = BSONDocument()
            operand.append("$lt", value)
            document.append(key(field), document: operand)
        case .greaterThan(let field, let value):
            let operand = BSONDocument()
            operand.append("$gt", value)
            document.append(key(field), document: operand)
        case .and(let filters):
            guard !filters.isEmpty else { return }
            document.append("$and", array: filters.map(query))
        case .or(let filters):
            if filters.isEmpty {
                let nothing = BSONDocument()
                nothing.append("$in", array: [StoreValue]())
                document.append("_id", document: nothing)
            } else {
                document.append("$or", array: filters.map(query))
            }
        case .not(let inner):
            document.append("$nor", array: [query(inner)])
        }
    }
}
