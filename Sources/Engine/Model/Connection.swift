/// A link between an interface of one process and a compatible interface of another. Only defpi
/// creates connections.
public struct Connection: Entity {
    public static let collection = EntityCollection.connection

    public var id: String
    public var revision: Int
    public var endpoint1: Endpoint
    public var endpoint2: Endpoint
    /// The TCP port one side listens on and the other connects to.
    public var port: Int

    public init(id: String = ObjectID.generate(), revision: Int = 0, endpoint1: Endpoint, endpoint2: Endpoint, port: Int) {
        self.id = id
        self.revision = revision
        self.endpoint1 = endpoint1
        self.endpoint2 = endpoint2
        self.port = port
    }

    /// The endpoint on the other side of `processId`, or nil when the process is not an endpoint.
    public func otherEndpoint(of processId: String) -> Endpoint? {
        if endpoint1.processId == processId { return endpoint2 }
        if endpoint2.processId == processId { return endpoint1 }
        return nil
    }
}

/// One side of a connection: a process, one of its interfaces, and the version defpi chose.
public struct Endpoint: Codable, Sendable, Hashable {
    public var processId: String
    public var interfaceId: String
    public var interfaceVersionName: String?

    public init(processId: String, interfaceId: String, interfaceVersionName: String? = nil) {
        self.processId = processId
        self.interfaceId = interfaceId
        self.interfaceVersionName = interfaceVersionName
    }
}
