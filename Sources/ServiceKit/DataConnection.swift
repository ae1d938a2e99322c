import Logging
import NIOCore
import NIOPosix
import Protocol
import SwiftProtobuf

/// One data connection between two processes, as the orchestrator set it up: this side listens
/// on a port (accepting one peer) or connects to the peer's, both sides exchange a handshake,
/// then a heartbeat keeps watch (`0x0A` ping, `0x0B` pong, every 10 s) and typed messages flow.
/// A peer that does not complete the handshake in time, stops answering pings, or breaks the
/// socket makes it INTERRUPTED, and it reconnects by itself until it is suspended or terminated.
public actor DataConnection {
    public nonisolated let id: String
    public nonisolated let interface: InterfaceHandler
    /// The peer, as the orchestrator named it.
    public nonisolated let remoteProcessId: String
    public private(set) var state: Connection_ConnectionState = .starting
    /// How many of this side's heartbeats the peer has answered since the connection was made:
    /// a peer that answers is alive, however quiet its data.
    public private(set) var heartbeatsAnswered = 0

    private var endpoint: Endpoint
    private let group: any EventLoopGroup
    private let logger: Logger
    private let timing: Timing
    private var handler: (any ConnectionHandler)?
    private var writer: NIOAsyncChannelOutboundWriter<ByteBuffer>?
    private var channel: (any Channel)?
    private var peerReady = false
    private var wasConnected = false
    private var missedPongs = 0
    private var stopping = false
    private var worker: Task<Void, Never>?

    /// Where the bytes go: a port to listen on, or a peer to connect to.
    struct Endpoint: Equatable {
        var targetAddress: String
        var port: Int
        var listens: Bool { targetAddress.isEmpty }
    }

    /// The heartbeat's pace; tests make it faster.
    struct Timing: Sendable {
        var firstPing: Duration = .seconds(1)
        var pingInterval: Duration = .seconds(10)
        /// Pongs missed in a row before the peer counts as gone.
        var missedPongLimit = 2
        /// How long a peer may take to complete the handshake.
        var handshakeTimeout: Duration = .seconds(10)
        var reconnectDelay: Duration = .milliseconds(200)
        var maximumReconnectDelay: Duration = .seconds(10)
    }

    init(id: String, interface: InterfaceHandler, remoteProcessId: String, endpoint: Endpoint, group: any EventLoopGroup,
         timing: Timing, logger: Logger) {
        self.id = id
        self.interface = interface
        self.remoteProcessId = remoteProcessId
        self.endpoint = endpoint
        self.group = group
        self.timing = timing
        var logger = logger
        logger[metadataKey: "connection"] = "\(id)"
        self.logger = logger
    }

    /// Sends a message of one of the interface's send types; only while CONNECTED.
    public func send(_ message: any SwiftProtobuf.Message) async throws {
        let name = TypedPayload.name(of: type(of: message))
        guard interface.sendable.contains(name) else {
            throw RuntimeFailure("\(name) is not a message interface \(interface.name) sends")
        }
        guard state == .connected, let writer else {
            throw RuntimeFailure("connection \(id) is \(state), not connected")
        }
        try await writer.write(ByteBuffer(bytes: Framing.frame(try TypedPayload.encoding(message, name: name).bytes)))
    }

    // MARK: Orchestrator requests

    func start() {
        handler = interface.makeHandler(self)
        worker = Task { await self.maintain() }
    }

    /// RESUME: after a suspension, with the (possibly new) peer address and port.
    func resume(targetAddress: String, port: Int) {
        endpoint = Endpoint(targetAddress: targetAddress, port: port)
        guard state == .suspended, worker == nil else { return }
        logger.info("connection \(id) to \(remoteProcessId) resumes: \(targetAddress.isEmpty ? "listening on \(port)" : "connecting to \(targetAddress):\(port)")")
        stopping = false
        worker = Task { await self.maintain() }
    }

    func suspend() async {
        await stop(as: .suspended)
        logger.info("connection \(id) to \(remoteProcessId) suspended")
        await handler?.suspended()
    }

    func terminate() async {
        await stop(as: .terminated)
        logger.info("connection \(id) to \(remoteProcessId) terminated")
        await handler?.terminated()
    }

    /// Ends the socket's life: the loop that (re)connects is cancelled and awaited, so nothing
    /// connects behind the orchestrator's back and a resume starts from a clean slate.
    private func stop(as newState: Connection_ConnectionState) async {
        stopping = true
        state = newState
        let running = worker
        worker = nil
        running?.cancel()
        let channel = self.channel
        detach(channel)
        try? await channel?.close()
        await running?.value
    }

    // MARK: The socket's life

    /// Connects (or accepts), runs the connection until it breaks, and starts over, until stopped.
    private func maintain() async {
        var delay = timing.reconnectDelay
        while !stopping && !Task.isCancelled {
            do {
                let connected = try await establish()
                guard !stopping, !Task.isCancelled else {
                    try? await connected.channel.close()
                    return
                }
                delay = timing.reconnectDelay
                try await run(connected)
            } catch {
                logger.debug("connection \(id): \(error)")
            }
            guard !stopping, !Task.isCancelled else { return }
            if state == .connected {
                state = .interrupted
                logger.info("connection \(id) to \(remoteProcessId) interrupted; reconnecting")
                await handler?.interrupted()
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, timing.maximumReconnectDelay)
        }
    }

    private func establish() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        if endpoint.listens {
            let server = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: "0.0.0.0", port: endpoint.port, childChannelInitializer: ByteChannel.wrap)
            // One peer per connection: take the first, then stop listening. The listener is closed
            // explicitly and awaited: left to `executeThenClose`, it could stay bound, take the
            // next peer's connection, and never hand it over.
            do {
                let peer = try await server.executeThenClose { inbound in
                    for try await peer in inbound { return peer }
                    throw RuntimeFailure("the listener on port \(endpoint.port) closed")
                }
                try? await server.channel.close()
                return peer
            } catch {
                try? await server.channel.close()
                throw error
            }
        }
        return try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .connect(host: endpoint.targetAddress, port: endpoint.port, channelInitializer: ByteChannel.wrap)
    }

    private func run(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws {
        defer { detach(connection.channel) }
        try await connection.executeThenClose { inbound, outbound in
            attach(connection.channel, outbound)
            try await writeHandshake(state)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.heartbeat() }
                group.addTask {
                    var decoder = FrameDecoder()
                    for try await buffer in inbound {
                        decoder.append(buffer.readableBytesView)
                        while let payload = try decoder.next() { try await self.received(payload) }
                    }
                }
                // Either ending (the peer left, the heartbeat gave up) ends the connection.
                try await group.next()
                group.cancelAll()
            }
        }
    }

    private func attach(_ channel: any Channel, _ writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.channel = channel
        self.writer = writer
        peerReady = false
        missedPongs = 0
    }

    /// Forgets `channel`, unless a newer one has taken its place.
    private func detach(_ channel: (any Channel)?) {
        guard let channel, self.channel === channel else { return }
        self.channel = nil
        writer = nil
    }

    private func writeHandshake(_ state: Connection_ConnectionState) async throws {
        var handshake = Connection_ConnectionHandshake()
        handshake.connectionID = id
        handshake.connectionState = state
        try await writer?.write(ByteBuffer(bytes: try ProtocolMessage.connectionHandshake(handshake).frame()))
    }

    private func heartbeat() async throws {
        let connected = ContinuousClock.now
        try await Task.sleep(for: timing.firstPing)
        while !Task.isCancelled {
            guard peerReady || ContinuousClock.now - connected < timing.handshakeTimeout else {
                throw RuntimeFailure("the peer did not complete the handshake within \(timing.handshakeTimeout)")
            }
            if peerReady {
                guard missedPongs <= timing.missedPongLimit else {
                    throw RuntimeFailure("\(missedPongs) heartbeats unanswered")
                }
                try await writer?.write(ByteBuffer(bytes: Framing.frame([Heartbeat.ping])))
                missedPongs += 1
            }
            try await Task.sleep(for: timing.pingInterval)
        }
    }

    private func received(_ payload: [UInt8]) async throws {
        if payload == [Heartbeat.ping] {
            try await writer?.write(ByteBuffer(bytes: Framing.frame([Heartbeat.pong])))
            return
        }
        if payload == [Heartbeat.pong] {
            missedPongs = 0
            heartbeatsAnswered += 1
            return
        }
        let typed = try TypedPayload(parsing: payload)
        if typed.name == TypedPayload.name(of: Connection_ConnectionHandshake.self) {
            try await handshake(try Connection_ConnectionHandshake(serializedBytes: typed.body))
            return
        }
        guard let type = interface.receivable[typed.name] else {
            logger.warning("connection \(id): ignored a \(typed.name), which interface \(interface.name) does not receive")
            return
        }
        let message = try type.init(serializedBytes: typed.body)
        await handler?.received(message)
    }

    /// The peer's handshake: answer it unless both sides already agree, and become CONNECTED
    /// once the peer says it is.
    private func handshake(_ handshake: Connection_ConnectionHandshake) async throws {
        guard handshake.connectionID == id else {
            throw RuntimeFailure("the peer's handshake is for connection \(handshake.connectionID), not \(id)")
        }
        if handshake.connectionState != .connected || !peerReady {
            try await writeHandshake(.connected)
        }
        guard handshake.connectionState == .connected, !peerReady else { return }
        peerReady = true
        let previous = state
        state = .connected
        logger.info("connection \(id) to \(remoteProcessId) (\(interface.name)) connected")
        if wasConnected, previous != .connected {
            await handler?.resumed()
        } else if !wasConnected {
            wasConnected = true
            await handler?.connected()
        }
    }
}

/// The heartbeat bytes of data connections: a frame of one byte.
enum Heartbeat {
    static let ping: UInt8 = 0x0A
    static let pong: UInt8 = 0x0B
}

/// Channels of raw bytes, as the dEF-Pi framing reads and writes them.
enum ByteChannel {
    static func wrap(_ channel: any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> {
        channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
    }
}
