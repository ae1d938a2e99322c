import Foundation
import NIOCore
import NIOPosix
import Protocol
import Synchronization

/// Where the Engine finds a process's management port.
public enum ProcessRoute: Sendable, Equatable {
    /// Straight over TCP: to `host` (the process id when nil: its name on the user's network)
    /// and `port`.
    case direct(host: String? = nil, port: Int = Framing.managementPort)
    /// Through the gateway's unix socket (`defpi-gateway`): it dials `<processId>:4999` on the
    /// user networks it is attached to and carries the bytes.
    case gateway(socketPath: String)
}

/// The orchestrator side of the dEF-Pi management protocol: one request and one reply at a
/// time per process, over a connection kept open between requests. Connecting retries with
/// back-off inside a budget; a reply has a deadline. Whatever goes wrong (no route, a timeout,
/// garbage, a closed socket) drops the connection and throws a `ProcessConnectorError`, which the
/// caller retries later: the next request connects afresh. A connection idle for `idleTimeout`
/// is closed, so thousands of quiet processes hold no sockets.
public final class ProcessConnector: Sendable {
    public let route: ProcessRoute
    private let replyTimeout: Duration
    private let connectBudget: Duration
    private let idleTimeout: Duration
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    private let links = Mutex<[String: ManagementLink]>([:])

    public init(route: ProcessRoute, replyTimeout: Duration = .seconds(10), connectBudget: Duration = .seconds(10),
                idleTimeout: Duration = .seconds(60)) {
        self.route = route
        self.replyTimeout = replyTimeout
        self.connectBudget = connectBudget
        self.idleTimeout = idleTimeout
    }

    /// Sends `message` to the process and returns its reply (an `ErrorMessage` reply is
    /// returned as it is: the caller decides what it means).
    public func send(_ message: ProtocolMessage, to processId: String) async throws(ProcessConnectorError) -> ProtocolMessage {
        let link = links.withLock { links in
            if let existing = links[processId] { return existing }
            let created = ManagementLink(processId: processId, route: route, group: group, replyTimeout: replyTimeout,
                                         connectBudget: connectBudget, idleTimeout: idleTimeout)
            links[processId] = created
            return created
        }
        let reply: ProtocolMessage
        do {
            reply = try await link.exchange(message)
        } catch let error as ProcessConnectorError {
            throw error
        } catch {
            throw .broken(processId: processId, reason: "\(error)")
        }
        if let mismatch = Self.mismatch(between: message, and: reply, processId: processId) {
            // Replies and requests are out of step (a stray message): start afresh.
            await link.close()
            throw .broken(processId: processId, reason: mismatch)
        }
        return reply
    }

    /// Why `reply` cannot be the answer to `request`, if it cannot: a state update or an error
    /// of this process for management messages, the handshake of the same connection for a
    /// connection message.
    static func mismatch(between request: ProtocolMessage, and reply: ProtocolMessage, processId: String) -> String? {
        switch (request, reply) {
        case (.connection(let asked), .connectionHandshake(let answer)):
            return answer.connectionID == asked.connectionID ? nil
                : "the answer is about connection \(answer.connectionID), not \(asked.connectionID)"
        case (_, .error(let error)):
            return error.processID == processId ? nil : "an error of process \(error.processID)"
        case (.connection, _):
            return "a \(reply.name) answered a ConnectionMessage"
        case (_, .processStateUpdate(let update)):
            return update.processID == processId ? nil : "the answer is about process \(update.processID)"
        default:
            return "a \(reply.name) answered a \(request.name)"
        }
    }

    /// Closes the connection to a process (it was terminated, or moved).
    public func disconnect(_ processId: String) async {
        let link = links.withLock { $0.removeValue(forKey: processId) }
        await link?.close()
    }

}

/// Why a message did not get a reply. Every case is temporary from the queue's point of view:
/// the process may be starting, moving or restarting.
public enum ProcessConnectorError: UserFacingError, Equatable {
    case unreachable(processId: String, address: String, reason: String)
    case timedOut(processId: String, after: Duration)
    case broken(processId: String, reason: String)

    public var failureKind: FailureKind {
        switch self {
        case .unreachable, .timedOut, .broken: return .unavailable
        }
    }

    public var userMessage: String {
        switch self {
        case .unreachable(let processId, let address, _):
            return "cannot reach process \(processId) at \(address); is it running and on the user's network?"
        case .timedOut(let processId, let after):
            return "process \(processId) did not answer within \(after)"
        case .broken(let processId, let reason):
            return "the connection to process \(processId) broke: \(reason)"
        }
    }

    public var debugDetail: String? {
        if case .unreachable(_, _, let reason) = self { return reason }
        return nil
    }
}

/// One process's management connection: requests go through it strictly one at a time.
actor ManagementLink {
    let processId: String
    let route: ProcessRoute
    let group: any EventLoopGroup
    let replyTimeout: Duration
    let connectBudget: Duration
    let idleTimeout: Duration
    private var connection: Connection?
    /// Whether a request is under way, and the requests waiting for it to finish, in order.
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// An open socket, served by a task that writes each request and reads its reply.
    struct Connection: Sendable {
        let channel: any Channel
        let requests: AsyncStream<Request>.Continuation
    }

    /// Whether the reply's deadline passed (then the timeout, not the closed socket, is the error).
    final class Expiry: Sendable {
        let happened = Mutex(false)
    }

    struct Request: Sendable {
        let frame: [UInt8]
        let reply: CheckedContinuation<ProtocolMessage, any Error>
    }

    init(processId: String, route: ProcessRoute, group: any EventLoopGroup, replyTimeout: Duration,
         connectBudget: Duration, idleTimeout: Duration) {
        self.processId = processId
        self.route = route
        self.group = group
        self.replyTimeout = replyTimeout
        self.connectBudget = connectBudget
        self.idleTimeout = idleTimeout
    }

    func exchange(_ message: ProtocolMessage) async throws -> ProtocolMessage {
        let frame = try message.frame()
        // One request at a time, from connecting to its reply: concurrent callers queue here.
        await takeTurn()
        defer { endTurn() }
        // Just after a process starts, the gateway may not reach it yet (its name is not yet known
        // on the user's network): the DIAL fails before anything is sent, so it is tried again
        // within the connect budget rather than failing the change for a second of back-off.
        let deadline = ContinuousClock.now + connectBudget
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try await resending(frame)
            } catch ProcessConnectorError.unreachable where ContinuousClock.now + delay < deadline {
                try await Task.sleep(for: delay)
                delay = min(delay * 1.5, .seconds(1))
            }
        }
    }

    private func resending(_ frame: [UInt8]) async throws -> ProtocolMessage {
        // A connection that closed (idle) as the request went out failed the write, so nothing
        // reached the process: the request goes again on a fresh connection, a few times at most
        // (on a starved machine even a fresh connection can idle out before the write).
        for _ in 1..<3 {
            do {
                return try await attempt(frame)
            } catch let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed {
                continue
            }
        }
        return try await attempt(frame)
    }

    private func attempt(_ frame: [UInt8]) async throws -> ProtocolMessage {
        let connection = try await connected()
        let processId = processId
        let limit = replyTimeout
        let expiry = Expiry()
        do {
            return try await withThrowingTaskGroup(of: ProtocolMessage.self) { group in
                group.addTask {
                    try await withCheckedThrowingContinuation { reply in
                        if case .terminated = connection.requests.yield(Request(frame: frame, reply: reply)) {
                            reply.resume(throwing: ProcessConnectorError.broken(processId: processId, reason: "the connection closed"))
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    // Closing the socket ends the read the request waits on.
                    expiry.happened.withLock { $0 = true }
                    try? await connection.channel.close()
                    throw ProcessConnectorError.timedOut(processId: processId, after: limit)
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch {
            await close()
            throw expiry.happened.withLock { $0 } ? ProcessConnectorError.timedOut(processId: processId, after: limit) : error
        }
    }

    private func takeTurn() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func endTurn() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }

    func close() async {
        connection?.requests.finish()
        try? await connection?.channel.close()
        connection = nil
    }

    private func connected() async throws -> Connection {
        // A connection closed meanwhile (idle, or by the process) is replaced, not reported.
        if let connection, connection.channel.isActive { return connection }
        await close()
        let channel = try await connect()
        let (requests, continuation) = AsyncStream.makeStream(of: Request.self)
        let processId = processId
        let dial = dialLine
        let address = describedAddress
        Task {
            do {
                try await channel.executeThenClose { inbound, outbound in
                    var replies = inbound.makeAsyncIterator()
                    var decoder = FrameDecoder()
                    var dialled = dial == nil
                    for await request in requests {
                        do {
                            if let dial, !dialled {
                                try await outbound.write(ByteBuffer(string: dial))
                                try await Self.dialAnswer(from: &replies, decoder: &decoder, processId: processId,
                                                          address: address)
                                dialled = true
                            }
                            try await outbound.write(ByteBuffer(bytes: request.frame))
                            request.reply.resume(returning: try await Self.reply(from: &replies, decoder: &decoder,
                                                                                  processId: processId))
                        } catch {
                            request.reply.resume(throwing: error)
                            throw error
                        }
                    }
                }
            } catch {}
            continuation.finish()
            // Requests that raced with the close get an answer too.
            for await request in requests {
                request.reply.resume(throwing: ProcessConnectorError.broken(processId: processId, reason: "the connection closed"))
            }
        }
        let opened = Connection(channel: channel.channel, requests: continuation)
        connection = opened
        return opened
    }

    /// What the gateway must be asked first, if the route goes through it.
    private var dialLine: String? {
        if case .gateway = route { return "DIAL \(processId) \(Framing.managementPort)\n" }
        return nil
    }

    private var describedAddress: String {
        switch route {
        case .direct(let host, let port): return "\(host ?? processId):\(port)"
        case .gateway(let socketPath): return "\(processId):\(Framing.managementPort) through the gateway at \(socketPath)"
        }
    }

    /// The gateway's answer to DIAL: `OK`, or `ERROR <why>`; what follows it is the process's.
    private static func dialAnswer(from replies: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                                   decoder: inout FrameDecoder, processId: String, address: String) async throws {
        var line: [UInt8] = []
        while true {
            guard let buffer = try await replies.next() else {
                throw ProcessConnectorError.unreachable(processId: processId, address: address,
                                                        reason: "the gateway closed the connection")
            }
            line += buffer.readableBytesView
            guard let newline = line.firstIndex(of: UInt8(ascii: "\n")) else { continue }
            decoder.append(line[(newline + 1)...])
            let answer = String(decoding: line[..<newline], as: UTF8.self)
            guard answer == "OK" else {
                throw ProcessConnectorError.unreachable(processId: processId, address: address, reason: answer)
            }
            return
        }
    }

    /// Reads until one whole reply has arrived.
    private static func reply(from replies: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                              decoder: inout FrameDecoder, processId: String) async throws -> ProtocolMessage {
        while true {
            if let payload = try decoder.next() {
                do {
                    return try ProtocolMessage(payload: payload)
                } catch {
                    throw ProcessConnectorError.broken(processId: processId, reason: "garbled reply: \(error)")
                }
            }
            guard let buffer = try await replies.next() else {
                throw ProcessConnectorError.broken(processId: processId, reason: "the process closed the connection")
            }
            decoder.append(buffer.readableBytesView)
        }
    }

    /// Connects, retrying with back-off (50 ms, growing by a quarter each time, as the original)
    /// until the budget is spent.
    private func connect() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let deadline = ContinuousClock.now + connectBudget
        var delay = Duration.milliseconds(50)
        while true {
            do {
                let bootstrap = ClientBootstrap(group: group).connectTimeout(.seconds(2))
                let idle = TimeAmount.nanoseconds(Int64(idleTimeout.seconds * 1e9))
                let wrap: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([IdleStateHandler(allTimeout: idle), CloseWhenIdle()])
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
                switch route {
                case .direct(let host, let port):
                    return try await bootstrap.connect(host: host ?? processId, port: port, channelInitializer: wrap)
                case .gateway(let socketPath):
                    return try await bootstrap.connect(unixDomainSocketPath: socketPath, channelInitializer: wrap)
                }
            } catch {
                guard ContinuousClock.now + delay < deadline else {
                    throw ProcessConnectorError.unreachable(processId: processId, address: describedAddress, reason: "\(error)")
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 1.25, .seconds(2))
            }
        }
    }
}

/// Closes a connection when the `IdleStateHandler` before it reports no traffic.
final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else { return context.fireUserInboundEventTriggered(event) }
        context.close(promise: nil)
    }
}
