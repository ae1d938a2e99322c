import Foundation
import Logging
import Protocol

/// Telling each side of a connection about it through the management protocol
/// (`ConnectionMessage`), and keeping what the sides answer on the stored connection. Every
/// call re-reads the connection and its processes, so a repeated or late step does the right
/// thing: a side is told only while its process runs, a removed connection is not created again.
struct ConnectionEndpoints: Sendable {
    let store: any Store
    let services: ServiceManager
    let connector: ProcessConnector
    let notifications: EngineNotifications
    private static let logger = Logger(label: "defpi.connections")

    /// How long a side told to connect is watched for its peer, before its state is left to
    /// later reports.
    static let settleTime: Duration = .seconds(5)

    /// Tells `processId`'s side to create the connection (or to resume it, when it was
    /// suspended), then watches it briefly while it reports STARTING or INTERRUPTED, until CONNECTED.
    func connect(_ connectionId: String, at processId: String, lease: ChangeLease) async throws {
        let (connection, process, peer) = try await current(connectionId, at: processId)
        guard process.state == .running else {
            throw ChangeObsolete("process \(process.name) does not run; its connections are made when it runs")
        }
        let message = try await message(connection, at: process, peer: peer,
                                         mode: connection.endpoint(of: processId)?.state == .suspended ? .resume : .create)
        try lease.check()
        var state = try await ask(message, to: process)
        CrashPoint.connectTold.reached()
        try await record(connectionId, at: processId, state)
        // A repeated CREATE reports the connection's state without creating it again.
        var polled = message
        polled.mode = .create
        let deadline = ContinuousClock.now + Self.settleTime
        while state == .starting || state == .interrupted, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            try lease.check()
            let now = try await ask(polled, to: process)
            if now != state { try await record(connectionId, at: processId, now) }
            state = now
        }
        // Both sides run and this one has not connected: asked again later, with the queue's
        // back-off. (A peer that does not run is told when it does; nothing to wait for.)
        if state == .starting || state == .interrupted,
           try await store.fetch(ServiceProcess.self, id: peer.id)?.state == .running {
            throw ConnectionNotYet(process: process.name, state: state)
        }
    }

    /// Tells `processId`'s side to end the connection (when its process runs), records it
    /// ended, and deletes the connection once both sides have ended.
    func disconnect(_ connectionId: String, at processId: String, lease: ChangeLease) async throws {
        guard let connection = try await store.fetch(Connection.self, id: connectionId) else { return }
        if let process = try await store.fetch(ServiceProcess.self, id: processId), process.state == .running,
           connection.endpoint(of: processId)?.state != .terminated {
            var message = Connection_ConnectionMessage()
            message.connectionID = connectionId
            message.mode = .terminate
            try lease.check()
            do {
                _ = try await ask(message, to: process)
                CrashPoint.disconnectTold.reached()
            } catch let refusal as PermanentChangeFailure {
                // The original library fails a TERMINATE of a connection it does not know: ended all the same.
                Self.logger.info("process \(process.name) does not know connection \(connectionId): \(refusal.userMessage)")
            }
        }
        let ended = try await record(connectionId, at: processId, .terminated)
        let gone = try await ended.endpoints.asyncAllSatisfy { endpoint in
            guard endpoint.state != .terminated else { return true }
            let process = try await store.fetch(ServiceProcess.self, id: endpoint.processId)
            return process == nil || process?.state == .terminated
        }
        if gone, try await store.delete(Connection.self, id: connectionId, revision: nil) {
            notifications.publish(.entity(.connection, id: connectionId, change: .deleted))
            await store.audit(AuditEvent(actor: "defpi", action: "connection.removed", target: connectionId,
                                         detail: "both sides ended it"), logger: Self.logger)
        }
    }

    /// Tells each running side of `processId`'s connections to suspend, and records it; a side
    /// already suspended is not told again, and one that does not know the connection (its
    /// process restarted) is left as it is.
    func suspendAll(of processId: String, lease: ChangeLease) async throws {
        for connection in try await store.all(Connection.self, .connections(of: processId)) where !connection.removing && !connection.provisional {
            for endpoint in connection.endpoints where endpoint.state != .suspended {
                guard let process = try await store.fetch(ServiceProcess.self, id: endpoint.processId),
                      process.state == .running else { continue }
                var message = Connection_ConnectionMessage()
                message.connectionID = connection.id
                message.mode = .suspend
                try lease.check()
                do {
                    try await record(connection.id, at: process.id, try await ask(message, to: process))
                } catch let unknown as PermanentChangeFailure {
                    Self.logger.info("\(unknown.userMessage); not suspended there")
                }
            }
        }
    }

    /// The connection, the process at `processId`'s side and its peer, as stored now.
    private func current(_ connectionId: String, at processId: String) async throws
        -> (Connection, ServiceProcess, ServiceProcess)
    {
        guard let connection = try await store.fetch(Connection.self, id: connectionId), !connection.removing else {
            throw ChangeObsolete.missing("the connection was removed")
        }
        // Queued, but the creation stopped before it confirmed the connection: the re-sync
        // removes it, and this change then ends.
        guard !connection.provisional else { throw ConnectionError.stillBeingMade(connection: connectionId) }
        guard let peerId = connection.otherEndpoint(of: processId)?.processId else {
            throw ChangeObsolete("process \(processId) is not an end of connection \(connectionId)")
        }
        guard let process = try await store.fetch(ServiceProcess.self, id: processId),
              let peer = try await store.fetch(ServiceProcess.self, id: peerId) else {
            throw ChangeObsolete.missing("a process of the connection no longer exists")
        }
        return (connection, process, peer)
    }

    /// The `ConnectionMessage` for `process`'s side: which side listens, the peer to connect to,
    /// the hashes of the interface version defpi chose.
    private func message(_ connection: Connection, at process: ServiceProcess, peer: ServiceProcess,
                         mode: Connection_ConnectionMessage.ModeType) async throws -> Connection_ConnectionMessage {
        guard let mine = connection.endpoint(of: process.id), let theirs = connection.otherEndpoint(of: process.id) else {
            throw ChangeObsolete("process \(process.name) is not an end of connection \(connection.id)")
        }
        let version = try await interfaceVersion(of: mine, process: process)
        var message = Connection_ConnectionMessage()
        message.connectionID = connection.id
        message.mode = mode
        message.listenPort = Int32(connection.port)
        message.targetAddress = connection.listens(process.id) ? "" : peer.id
        message.receiveHash = version.receivesHash
        message.sendHash = version.sendsHash
        message.remoteProcessID = peer.id
        message.remoteInterfaceID = theirs.interfaceId
        message.remoteServiceID = peer.serviceId
        message.remoteProcessName = peer.name
        return message
    }

    /// The interface version an endpoint speaks, from its process's service version.
    private func interfaceVersion(of endpoint: Endpoint, process: ServiceProcess) async throws -> InterfaceVersion {
        let service = try await services.service(process.serviceId, version: process.serviceVersion)
        guard let interface = service.interfaces.first(where: { $0.id == endpoint.interfaceId }),
              let version = interface.interfaceVersions.first(where: { $0.versionName == endpoint.interfaceVersionName })
                ?? interface.interfaceVersions.first else {
            throw PermanentChangeFailure(
                "\(process.serviceId) \(process.serviceVersion) (process \(process.name)) has no interface \(endpoint.interfaceId) \(endpoint.interfaceVersionName ?? "")")
        }
        return version
    }

    /// Sends `message` and returns the state the process answers; an `ErrorMessage` fails for good.
    private func ask(_ message: Connection_ConnectionMessage, to process: ServiceProcess) async throws -> EndpointState {
        let reply = try await connector.send(.connection(message), to: process.id)
        switch reply {
        case .connectionHandshake(let handshake):
            return EndpointState(handshake.connectionState)
        case .error(let error):
            throw PermanentChangeFailure("process \(process.name) refused connection \(message.connectionID): \(error.debugInformation)")
        default:
            throw ProcessReplyError.unexpected(process: process.name, asked: "ConnectionMessage", reply: reply.name)
        }
    }

    /// Records `state` as `processId`'s side reported it, on the latest stored connection.
    @discardableResult
    func record(_ connectionId: String, at processId: String, _ state: EndpointState) async throws -> Connection {
        try await EntityRecord<Connection>(store: store, notifications: notifications).update(connectionId) {
            $0.updateEndpoint(of: processId) {
                $0.state = state
                $0.reported = Date()
            }
        }
    }
}

extension EndpointState {
    init(_ state: Connection_ConnectionState) {
        switch state {
        case .starting: self = .starting
        case .connected: self = .connected
        case .suspended: self = .suspended
        case .interrupted: self = .interrupted
        case .terminated: self = .terminated
        }
    }
}

extension Sequence {
    func asyncAllSatisfy(_ predicate: (Element) async throws -> Bool) async rethrows -> Bool {
        for element in self where !(try await predicate(element)) { return false }
        return true
    }

    func asyncCompactMap<T>(_ transform: (Element) async throws -> T?) async rethrows -> [T] {
        var results: [T] = []
        for element in self { if let result = try await transform(element) { results.append(result) } }
        return results
    }
}

/// A side told while both processes run reports it has not connected yet: the step is tried again.
struct ConnectionNotYet: UserFacingError {
    let process: String
    let state: EndpointState
    var userMessage: String { "process \(process)'s side is still \(state.rawValue); asked again later" }
}

/// The payload of the endpoint steps: one side of one connection.
struct EndpointSubject: Codable, Sendable {
    var connectionId: String
    var processId: String

    /// The resource one side's changes hold: how a waiting change of that side is found.
    static func resource(_ connectionId: String, _ processId: String) -> String { "\(connectionId):\(processId)" }
}

/// Tells one side of a connection to create (or resume) it, once its process runs.
struct ConnectEndpointStep: ChangeStep {
    typealias Payload = EndpointSubject

    static let kind: PendingChangeKind = "CONNECT_ENDPOINT"

    let endpoints: ConnectionEndpoints

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await endpoints.connect(payload.connectionId, at: payload.processId, lease: lease)
    }
}

/// Tells one side of a connection to end it; the connection goes once both sides have.
struct DisconnectEndpointStep: ChangeStep {
    typealias Payload = EndpointSubject

    static let kind: PendingChangeKind = "DISCONNECT_ENDPOINT"

    let endpoints: ConnectionEndpoints
    let connections: ConnectionManager

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await endpoints.disconnect(payload.connectionId, at: payload.processId, lease: lease)
    }

    func abandoned(_ payload: Payload, change: PendingChange) async throws {
        try await connections.settleRemoval(of: payload.connectionId)
    }
}
