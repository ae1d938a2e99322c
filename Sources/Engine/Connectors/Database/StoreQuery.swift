import Foundation

/// A listing request: which entities, in what order, which page.
public struct StoreQuery: Sendable {
    public var filter: StoreFilter
    /// Sort keys, most significant first; the id breaks ties so pages are stable.
    public var sort: [StoreSort]
    public var offset: Int
    /// nil = no limit.
    public var limit: Int?

    public init(filter: StoreFilter = .all, sort: [StoreSort] = [], offset: Int = 0, limit: Int? = nil) {
        self.filter = filter
        self.sort = sort
        self.offset = offset
        self.limit = limit
    }
}

/// One sort key.
public struct StoreSort: Sendable, Hashable {
    public var field: StoreField
    public var ascending: Bool

    public init(_ field: StoreField, ascending: Bool = true) {
        self.field = field
        self.ascending = ascending
    }
}

/// A field of a stored document, as a dotted path of JSON keys (`endpoint1.processId`).
/// Only letters, digits and `_` are allowed in a key, so a path is safe to put in a query.
public struct StoreField: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let path: String

    /// A field from user input; nil when the path has characters outside `[A-Za-z0-9_.]`.
    public init?(validating path: String) {
        let keys = path.split(separator: ".", omittingEmptySubsequences: false)
        guard !keys.isEmpty, keys.allSatisfy({ key in
            !key.isEmpty && key.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
        }) else { return nil }
        self.path = path
    }

    public init(stringLiteral path: String) {
        guard let field = StoreField(validating: path) else { preconditionFailure("invalid store field \(path)") }
        self = field
    }

    public var description: String { path }
}

/// A scalar a filter compares with.
public enum StoreValue: Sendable, Hashable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case date(Date)
}

/// Which documents a query matches. Evaluated by the store, on its indexes where it has them.
public indirect enum StoreFilter: Sendable, Hashable {
    case all
    /// The field equals the value (use `contains` to match an element of an array field).
    case equals(StoreField, StoreValue)
    /// The field is missing or null.
    case isNull(StoreField)
    /// The field equals one of the values.
    case isIn(StoreField, [StoreValue])
    /// The array field has an element equal to the value.
    case contains(StoreField, StoreValue)
    case lessThan(StoreField, StoreValue)
    case greaterThan(StoreField, StoreValue)
    case and([StoreFilter])
    case or([StoreFilter])
    case not(StoreFilter)

    /// Shorthand for `.equals(field, .string(value))`.
    public static func `where`(_ field: StoreField, is value: String) -> StoreFilter {
        .equals(field, .string(value))
    }
}
