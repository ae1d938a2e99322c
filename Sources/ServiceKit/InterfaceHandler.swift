import Protocol
import SwiftProtobuf

/// How the service speaks one version of one of its interfaces: the hashes that version is known
/// by (from the service's description), the messages it may receive and send, and the handler
/// that looks after each connection of it.
public struct InterfaceHandler: Sendable {
    public let name: String
    public let receivesHash: String
    public let sendsHash: String
    let receivable: [String: any SwiftProtobuf.Message.Type]
    let sendable: Set<String>
    let makeHandler: @Sendable (DataConnection) -> any ConnectionHandler

    /// `handler` is called for every new connection of this interface version.
    public init(name: String, receivesHash: String, sendsHash: String, receives: [any SwiftProtobuf.Message.Type],
                sends: [any SwiftProtobuf.Message.Type],
                handler: @escaping @Sendable (DataConnection) -> any ConnectionHandler) {
        self.name = name
        self.receivesHash = receivesHash
        self.sendsHash = sendsHash
        receivable = Dictionary(receives.map { (TypedPayload.name(of: $0), $0) }, uniquingKeysWith: { first, _ in first })
        sendable = Set(sends.map { TypedPayload.name(of: $0) })
        makeHandler = handler
    }
}

/// What the service does with one data connection. Every method has a default that does nothing.
public protocol ConnectionHandler: Sendable {
    /// The connection is up for the first time: messages can be sent.
    func connected() async
    /// A message of one of the interface's receive types arrived.
    func received(_ message: any SwiftProtobuf.Message) async
    /// The peer stopped answering; ServiceKit reconnects by itself.
    func interrupted() async
    /// The connection is up again, after an interruption or a suspension.
    func resumed() async
    /// The orchestrator suspended the connection (a peer is moving).
    func suspended() async
    /// The connection ended for good.
    func terminated() async
}

extension ConnectionHandler {
    public func connected() async {}
    public func received(_ message: any SwiftProtobuf.Message) async {}
    public func interrupted() async {}
    public func resumed() async {}
    public func suspended() async {}
    public func terminated() async {}
}
