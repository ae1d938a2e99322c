import Protocol
import SwiftProtobuf

/// How the service speaks one version of one of its interfaces: the hashes that version is known
/// by, the messages it may receive and send, and the handler that looks after each connection
/// of it. The hashes come from the interfaces file `defpi service publish` puts in the image
/// (name the interface and version), or are given outright.
public struct InterfaceHandler: Sendable {
    public let name: String
    public private(set) var receivesHash: String
    public private(set) var sendsHash: String
    /// The interface and version to look up in the interfaces file; nil when the hashes are given.
    let lookup: (interface: String, version: String)?
    let receivable: [String: any SwiftProtobuf.Message.Type]
    let sendable: Set<String>
    let makeHandler: @Sendable (DataConnection) -> any ConnectionHandler

    /// Interface `interface`, version `version`, with its hashes from the image's interfaces
    /// file; `handler` is called for every new connection of it.
    public init(interface: String, version: String, receives: [any SwiftProtobuf.Message.Type],
                sends: [any SwiftProtobuf.Message.Type],
                handler: @escaping @Sendable (DataConnection) -> any ConnectionHandler) {
        self.init(name: "\(interface) \(version)", receivesHash: "", sendsHash: "", lookup: (interface, version),
                  receives: receives, sends: sends, handler: handler)
    }

    /// An interface version known by its hashes.
    public init(name: String, receivesHash: String, sendsHash: String, receives: [any SwiftProtobuf.Message.Type],
                sends: [any SwiftProtobuf.Message.Type],
                handler: @escaping @Sendable (DataConnection) -> any ConnectionHandler) {
        self.init(name: name, receivesHash: receivesHash, sendsHash: sendsHash, lookup: nil, receives: receives,
                  sends: sends, handler: handler)
    }

    private init(name: String, receivesHash: String, sendsHash: String, lookup: (interface: String, version: String)?,
                 receives: [any SwiftProtobuf.Message.Type], sends: [any SwiftProtobuf.Message.Type],
                 handler: @escaping @Sendable (DataConnection) -> any ConnectionHandler) {
        self.name = name
        self.receivesHash = receivesHash
        self.sendsHash = sendsHash
        self.lookup = lookup
        receivable = Dictionary(receives.map { (TypedPayload.name(of: $0), $0) }, uniquingKeysWith: { first, _ in first })
        sendable = Set(sends.map { TypedPayload.name(of: $0) })
        makeHandler = handler
    }

    /// This handler with its hashes taken from `interfaces` (when it names its interface);
    /// nil, with the reason, when the published version of the service does not have it.
    func resolved(in interfaces: [InterfacesFile.Interface]) -> (handler: InterfaceHandler?, missing: String?) {
        guard let lookup else { return (self, nil) }
        guard let interface = interfaces.first(where: { $0.name.lowercased() == lookup.interface.lowercased() }) else {
            return (nil, "no interface \"\(lookup.interface)\" (it has \(interfaces.map(\.name).joined(separator: ", ")))")
        }
        guard let version = interface.interfaceVersions.first(where: { $0.versionName == lookup.version }) else {
            return (nil, "interface \"\(interface.name)\" has no version \"\(lookup.version)\" (it has \(interface.interfaceVersions.map(\.versionName).joined(separator: ", ")))")
        }
        var resolved = self
        resolved.receivesHash = version.receivesHash
        resolved.sendsHash = version.sendsHash
        return (resolved, nil)
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
