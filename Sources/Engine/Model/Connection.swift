import Foundation

/// A link between an interface of one process and a compatible interface of another, both of
/// one user. Only defpi creates connections; each side is told through the queue once its
/// process runs, and what each side reports is kept.
public struct Connection: Entity {
    public static let collection = EntityCollection.connection

    public var id: String
    public var revision: Int
    public var endpoint1: Endpoint
    public var endpoint2: Endpoint
    /// The TCP port one side listens on and the other connects to.
    public var port: Int
    /// The owner of both processes; visibility follows it.
    public var userId: String?
    /// Set when the connection is being removed: both sides are told to end it, then the record goes.
    public var removing: Bool
    /// Set while the connection is being made: stored, but not yet known to hold against
    /// connections made at the same time (see `ConnectionCreation`). No side is told of it, and
    /// the re-sync removes one left by a crash.
    public var provisional: Bool
    /// What keeps the connection from working (an interface a process does not have, versions no
    /// longer compatible after an upgrade); nil while all is well.
    public var problem: String?
    public var created: Date?
    /// Both ends' process and interface, in a fixed order: unique in the store, so the same two
    /// interfaces are never connected twice, whoever asks at the same time.
    public var pair: String

    public init(id: String = ObjectID.generate(), revision: Int = 0, endpoint1: Endpoint, endpoint2: Endpoint, port: Int,
                userId: String? = nil, removing: Bool = false, provisional: Bool = false, problem: String? = nil,
                created: Date? = Date()) {
        self.id = id
        self.revision = revision
        self.endpoint1 = endpoint1
        self.endpoint2 = endpoint2
        self.port = port
        self.userId = userId
        self.removing = removing
        self.provisional = provisional
        self.problem = problem
        self.created = created
        pair = Self.pair(endpoint1, endpoint2)
    }

    /// Older documents (and the original's) have no `removing`, `provisional`, `userId` or `created`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        revision = try container.decodeIfPresent(Int.self, forKey: .revision) ?? 0
        endpoint1 = try container.decode(Endpoint.self, forKey: .endpoint1)
        endpoint2 = try container.decode(Endpoint.self, forKey: .endpoint2)
        port = try container.decode(Int.self, forKey: .port)
        userId = try container.decodeIfPresent(String.self, forKey: .userId)
        removing = try container.decodeIfPresent(Bool.self, forKey: .removing) ?? false
        provisional = try container.decodeIfPresent(Bool.self, forKey: .provisional) ?? false
        problem = try container.decodeIfPresent(String.self, forKey: .problem)
        created = try container.decodeIfPresent(Date.self, forKey: .created)
        pair = try container.decodeIfPresent(String.self, forKey: .pair) ?? Self.pair(endpoint1, endpoint2)
    }

    static func pair(_ first: Endpoint, _ second: Endpoint) -> String {
        [first.key, second.key].sorted().joined(separator: " | ")
    }

    /// The endpoints, first then second.
    public var endpoints: [Endpoint] { [endpoint1, endpoint2] }

    /// The endpoint on the other side of `processId`, or nil when the process is not an endpoint.
    public func otherEndpoint(of processId: String) -> Endpoint? {
        if endpoint1.processId == processId { return endpoint2 }
        if endpoint2.processId == processId { return endpoint1 }
        return nil
    }

    /// The endpoint of `processId`, or nil when the process is not an endpoint.
    public func endpoint(of processId: String) -> Endpoint? {
        otherEndpoint(of: processId).flatMap { otherEndpoint(of: $0.processId) }
    }

    /// Changes the endpoint of `processId` (nothing when the process is not an endpoint).
    public mutating func updateEndpoint(of processId: String, _ change: (inout Endpoint) -> Void) {
        if endpoint1.processId == processId { change(&endpoint1) } else if endpoint2.processId == processId { change(&endpoint2) }
    }

    /// Whether the endpoint of `processId` listens (the original's rule: the side with the
    /// smaller id listens, the other connects to it by its id, a name in the user's network).
    public func listens(_ processId: String) -> Bool {
        guard let other = otherEndpoint(of: processId) else { return false }
        return processId < other.processId
    }

    /// Whether it joins `first` and `second` (in either orientation).
    public func joins(_ first: Endpoint, _ second: Endpoint) -> Bool {
        pair == Self.pair(first, second)
    }

    /// The connection's state as its two sides last reported it.
    public var state: ConnectionState {
        if removing { return .removing }
        let states = endpoints.map(\.state)
        if states.contains(nil) { return .pending }
        if states.allSatisfy({ $0 == .connected }) { return .connected }
        if states.contains(.suspended) { return .suspended }
        if states.contains(.interrupted) { return .interrupted }
        return .starting
    }
}

/// One side of a connection: a process, one of its interfaces, the version defpi chose, and
/// the state the process last reported for it.
public struct Endpoint: Codable, Sendable, Hashable {
    public var processId: String
    public var interfaceId: String
    public var interfaceVersionName: String?
    /// What the process answered last (nil: not told yet).
    public var state: EndpointState?
    public var reported: Date?

    public init(processId: String, interfaceId: String, interfaceVersionName: String? = nil, state: EndpointState? = nil,
                reported: Date? = nil) {
        self.processId = processId
        self.interfaceId = interfaceId
        self.interfaceVersionName = interfaceVersionName
        self.state = state
        self.reported = reported
    }

    /// What identifies the endpoint: its process and interface.
    var key: String { "\(processId) \(interfaceId)" }
}

/// A connection's state at one side, as the process reports it (the protocol's `ConnectionState`).
public enum EndpointState: String, FallbackDecodable, Sendable, CaseIterable {
    case starting = "STARTING"
    case connected = "CONNECTED"
    case suspended = "SUSPENDED"
    case interrupted = "INTERRUPTED"
    case terminated = "TERMINATED"
    public static let fallback = EndpointState.starting
}

/// A connection's state, from both sides' reports.
public enum ConnectionState: String, Sendable, Codable {
    /// A side has not been told yet (its process does not run yet, or its change waits).
    case pending = "PENDING"
    case starting = "STARTING"
    case connected = "CONNECTED"
    case suspended = "SUSPENDED"
    case interrupted = "INTERRUPTED"
    /// Both sides are being told to end it.
    case removing = "REMOVING"
}
