import Foundation

/// Why a store operation failed. Every case says what to check.
public enum StoreError: UserFacingError, Equatable {
    /// No entity with this id.
    case notFound(EntityCollection, id: String)
    /// The entity changed since it was read (optimistic versioning); re-read and retry.
    case conflict(EntityCollection, id: String, expectedRevision: Int, storedRevision: Int?)
    /// A unique field already holds this value.
    case duplicate(EntityCollection, field: String, value: String)
    /// The worker no longer holds the lease of this change (it expired and was taken over, or
    /// the change was removed).
    case leaseLost(changeId: String, owner: String)
    /// The store location exists but cannot be used (corrupt, not a database, no permission).
    case unreadable(location: String, reason: String)
    /// The store was written by a newer defpi; refusing to downgrade it.
    case newerSchema(location: String, found: Int, supported: Int)
    /// The database server did not answer.
    case unreachable(location: String, reason: String)
    /// The store URI or path is malformed.
    case invalidLocation(String, reason: String)
    /// The entity cannot be stored as given (e.g. it fails to encode).
    case invalidEntity(EntityCollection, reason: String)
    /// A stored document does not decode as this kind of entity.
    case undecodable(EntityCollection, reason: String)
    /// Any other failure reported by the database.
    case backend(location: String, message: String)

    public var failureKind: FailureKind {
        switch self {
        case .notFound: return .notFound
        case .conflict, .duplicate, .leaseLost: return .conflict
        case .unreachable: return .unavailable
        case .invalidEntity: return .invalidRequest
        default: return .failed
        }
    }

    public var userMessage: String {
        switch self {
        case .notFound(let collection, let id):
            return "\(collection.rawValue) \(id) not found"
        case .conflict(let collection, let id, _, _):
            return "\(collection.rawValue) \(id) was changed by someone else meanwhile; reload it and try again"
        case .duplicate(let collection, let field, let value):
            return "a \(collection.rawValue) with \(field) '\(value)' already exists; choose another \(field)"
        case .leaseLost(let changeId, _):
            return "pending change \(changeId) is no longer held by this worker (its lease expired or it was removed)"
        case .unreadable(let location, let reason):
            return "cannot use the store at \(location): \(reason). Check the file, or point --store elsewhere; nothing was changed"
        case .newerSchema(let location, let found, let supported):
            return "the store at \(location) has schema version \(found), written by a newer defpi (this one supports up to \(supported)); upgrade defpi, it will not downgrade the store"
        case .unreachable(let location, let reason):
            return "cannot reach the database at \(location): \(reason). Is the server running and reachable?"
        case .invalidLocation(let location, let reason):
            return "invalid store location '\(location)': \(reason). Use a file path, sqlite:///path/to/file.sqlite, or mongodb://host:port/database"
        case .invalidEntity(let collection, let reason):
            return "cannot store this \(collection.rawValue): \(reason)"
        case .undecodable(let collection, _):
            return "a stored \(collection.rawValue) document cannot be read; it was written by another tool or a damaged copy. Remove or repair it"
        case .backend(let location, let message):
            return "the store at \(location) failed: \(message)"
        }
    }

    public var debugDetail: String? {
        switch self {
        case .conflict(_, _, let expected, let stored):
            return "based on revision \(expected), stored revision \(stored.map(String.init) ?? "none")"
        case .leaseLost(_, let owner):
            return "owner \(owner)"
        case .undecodable(_, let reason):
            return reason
        default:
            return nil
        }
    }
}
