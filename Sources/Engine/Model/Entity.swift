import Foundation

/// A value the store persists: one document with an id and a revision that grows by one on every
/// successful write (optimistic versioning: a write based on an older revision is refused).
public protocol Entity: Codable, Sendable, Equatable, Identifiable where ID == String {
    /// The collection (MongoDB) or table (SQLite) that holds this kind of entity.
    static var collection: EntityCollection { get }
    /// 24-hex identifier (see `ObjectID`).
    var id: String { get set }
    /// The revision this copy was read at; 0 for an entity not stored yet.
    var revision: Int { get set }
}

extension Entity {
    /// A copy of this entity at another revision.
    public func atRevision(_ revision: Int) -> Self {
        var copy = self
        copy.revision = revision
        return copy
    }
}

/// The kinds of stored documents. Raw values are the original dEF-Pi collection names.
public enum EntityCollection: String, Sendable, CaseIterable {
    case user = "User"
    case nodePool = "NodePool"
    case node = "Node"
    case process = "Process"
    case connection = "Connection"
    case pendingChange = "PendingChange"
    case auditEvent = "AuditEvent"
    case accessToken = "AccessToken"
    case userQuota = "UserQuota"

    /// The top-level fields that hold dates (epoch milliseconds in JSON), which a document
    /// database stores with its native date type.
    public var dateFields: Set<String> {
        switch self {
        case .user, .nodePool, .connection, .userQuota: return []
        case .node: return ["lastSync"]
        case .process: return ["created"]
        case .pendingChange: return ["created", "runAt", "leaseExpiry", "updated"]
        case .auditEvent: return ["time"]
        case .accessToken: return ["created", "expires"]
        }
    }
}

/// A string-backed enum that decodes an unknown raw value (written by a newer defpi or another
/// tool) to a fallback case instead of failing the whole document.
public protocol FallbackDecodable: RawRepresentable<String>, Codable {
    /// The case used for raw values this version does not know.
    static var fallback: Self { get }
}

extension FallbackDecodable {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        self = Self(rawValue: raw) ?? Self(rawValue: raw.uppercased()) ?? .fallback
    }
}

/// The JSON conventions of the model, shared by every store and front: dates as whole epoch
/// milliseconds (as the original's Jackson wrote them).
public enum ModelCoding {
    /// An encoder of the model's JSON; `sortedKeys` for output people read and diff.
    public static func encoder(sortedKeys: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.epochMilliseconds)
        }
        encoder.outputFormatting = sortedKeys ? [.sortedKeys, .withoutEscapingSlashes] : [.withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }
}

extension Date {
    /// Milliseconds since 1970, as the model's JSON writes dates.
    var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}
