import Logging
import NIOCore
import Protocol

/// The process's data connections, as the orchestrator creates, suspends, resumes and ends them
/// (`ConnectionMessage`). Every request is answered: repeating one is harmless (a second CREATE
/// reports the connection's state; ending an unknown connection reports it ended), and a request
/// that cannot be met says why.
actor DataConnections {
    private let interfaces: [InterfaceHandler]
    private let group: any EventLoopGroup
    private let timing: DataConnection.Timing
    private let logger: Logger
    private var connections: [String: DataConnection] = [:]

    init(interfaces: [InterfaceHandler], group: any EventLoopGroup, timing: DataConnection.Timing, logger: Logger) {
        self.interfaces = interfaces
        self.group = group
        self.timing = timing
        self.logger = logger
    }

    func handle(_ request: Connection_ConnectionMessage) async throws -> Connection_ConnectionHandshake {
        let id = request.connectionID
        switch request.mode {
        case .create, .resume:
            if let existing = connections[id] {
                // A RESUME is answered CONNECTED, as dEF-Pi does; a repeated CREATE with the real
                // state (dEF-Pi said CONNECTED for any that exists), which the orchestrator keeps.
                if request.mode == .resume {
                    await existing.resume(targetAddress: request.targetAddress, port: Int(request.listenPort))
                    return reply(id, .connected)
                }
                return reply(id, await existing.state)
            }
            guard let interface = interfaces.first(where: {
                $0.receivesHash == request.receiveHash && $0.sendsHash == request.sendHash
            }) else {
                throw RuntimeFailure(
                    "no interface of this service receives \(request.receiveHash.prefix(12)) and sends \(request.sendHash.prefix(12)); it has \(interfaces.map { "\($0.name) (\($0.receivesHash.prefix(12))/\($0.sendsHash.prefix(12)))" }.joined(separator: ", "))")
            }
            guard request.listenPort > 0, request.listenPort < 65536 else {
                throw RuntimeFailure("connection \(id) has no valid port (\(request.listenPort))")
            }
            let connection = DataConnection(
                id: id, interface: interface, remoteProcessId: request.remoteProcessID,
                endpoint: .init(targetAddress: request.targetAddress, port: Int(request.listenPort)), group: group,
                timing: timing, logger: logger)
            connections[id] = connection
            await connection.start()
            logger.info("connection \(id) (\(interface.name)) to \(request.remoteProcessID): \(request.targetAddress.isEmpty ? "listening on \(request.listenPort)" : "connecting to \(request.targetAddress):\(request.listenPort)")")
            return reply(id, .starting)
        case .suspend:
            guard let connection = connections[id] else {
                throw RuntimeFailure("there is no connection \(id) to suspend")
            }
            await connection.suspend()
            return reply(id, .suspended)
        case .terminate:
            if let connection = connections.removeValue(forKey: id) { await connection.terminate() }
            return reply(id, .terminated)
        }
    }

    /// Ends every connection: the process is stopping.
    func closeAll() async {
        let closing = connections.values
        connections.removeAll()
        for connection in closing { await connection.terminate() }
    }

    private func reply(_ id: String, _ state: Connection_ConnectionState) -> Connection_ConnectionHandshake {
        var handshake = Connection_ConnectionHandshake()
        handshake.connectionID = id
        handshake.connectionState = state
        return handshake
    }
}
