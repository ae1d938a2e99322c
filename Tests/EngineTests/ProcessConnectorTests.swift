import DefpiTesting
import Engine
import Foundation
import NIOCore
import NIOPosix
import Protocol
import Testing

/// The orchestrator side of the management protocol against peers that misbehave: every
/// failure is a typed error within its deadline, and the next request starts afresh.
@Suite("Process connector", .timeLimit(.minutes(1)))
struct ProcessConnectorTests {
    /// A TCP server on a free port that answers each connection with `answer`.
    struct Peer {
        let port: Int
        let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        /// Connections accepted so far, and closed by the other side so far.
        let accepted = Counter()
        let closed = Counter()

        init(answer: @escaping @Sendable (NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> Void) async throws {
            try await self.init(answerReading: { outbound, _ in try await answer(outbound) })
        }

        /// A peer that is handed each chunk's size as it reads it.
        init(answerReading: @escaping @Sendable (NIOAsyncChannelOutboundWriter<ByteBuffer>, Int) async throws -> Void) async throws {
            let answer = answerReading
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: 0) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            port = server.channel.localAddress!.port!
            let server = server
            let accepted = accepted
            let closed = closed
            Task {
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        _ = await accepted.next()
                        Task {
                            // Ended by the other side, with a FIN or (data left unread there) a
                            // reset: either way the connection is closed, and counted.
                            try? await connection.executeThenClose { inbound, outbound in
                                for try await chunk in inbound {
                                    try await answer(outbound, chunk.readableBytes)
                                }
                            }
                            _ = await closed.next()
                        }
                    }
                }
            }
        }

        func stop() async { try? await server.channel.close() }
    }

    /// A peer's answer to every request: RUNNING, as process `processId`.
    static func running(as processId: String) -> @Sendable (NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> Void {
        { outbound in
            var update = Process_ProcessStateUpdateMessage()
            update.processID = processId
            update.state = .running
            try await outbound.write(ByteBuffer(bytes: try ProtocolMessage.processStateUpdate(update).frame()))
        }
    }

    static var request: ProtocolMessage {
        var message = Process_GoToProcessStateMessage()
        message.processID = "p1"
        message.targetState = .suspended
        return .goToProcessState(message)
    }

    @Test("nothing listening: unreachable once the connect budget is spent")
    func unreachable() async throws {
        // A bound socket that does not listen: connections are refused, and no other test can
        // take the port meanwhile.
        let refusing = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(refusing) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(refusing, $0, length) == 0 && getsockname(refusing, $0, &length) == 0 }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let connector = ProcessConnector(route: .direct(host: "127.0.0.1", port: port), connectBudget: .milliseconds(400))
        let start = ContinuousClock.now
        await #expect {
            try await connector.send(Self.request, to: "p1")
        } throws: { error in
            guard case .unreachable(let id, let address, _)? = error as? ProcessConnectorError else { return false }
            return id == "p1" && address == "127.0.0.1:\(port)"
        }
        // The 400 ms budget, not the default 10 s (with room for a busy test run).
        #expect(ContinuousClock.now - start < .seconds(6))
    }

    @Test("a process that never answers: timed out at the deadline")
    func silent() async throws {
        let peer = try await Peer { _ in }
        defer { Task { await peer.stop() } }
        let connector = ProcessConnector(route: .direct(host: "127.0.0.1", port: peer.port), replyTimeout: .milliseconds(300))
        let start = ContinuousClock.now
        await #expect(throws: ProcessConnectorError.timedOut(processId: "p1", after: .milliseconds(300))) {
            try await connector.send(Self.request, to: "p1")
        }
        // At the deadline: not before it, and not at some other, longer one (room for a busy run).
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(300) && waited < .seconds(5), "gave up after \(waited)")
    }

    @Test("garbage, or a closed connection, breaks the link; the next request connects afresh and works")
    func garbageThenRecovery() async throws {
        let replies = Counter()
        let peer = try await Peer { outbound in
            switch await replies.next() {
            case 0: try await outbound.write(ByteBuffer(bytes: Framing.frame([3, 0x41, 0x42, 0x43, 1, 2])))
            case 1: throw CancellationError()  // closes this connection without a reply
            default:
                var update = Process_ProcessStateUpdateMessage()
                update.processID = "p1"
                update.state = .suspended
                try await outbound.write(ByteBuffer(bytes: try ProtocolMessage.processStateUpdate(update).frame()))
            }
        }
        defer { Task { await peer.stop() } }
        let connector = ProcessConnector(route: .direct(host: "127.0.0.1", port: peer.port), replyTimeout: .seconds(5))
        await #expect {
            try await connector.send(Self.request, to: "p1")
        } throws: { error in
            guard case .broken(_, let reason)? = error as? ProcessConnectorError else { return false }
            return reason.hasPrefix("garbled reply: an unknown message \"ABC\"")
        }
        await #expect {
            try await connector.send(Self.request, to: "p1")
        } throws: { error in
            (error as? ProcessConnectorError) == .broken(processId: "p1", reason: "the process closed the connection")
        }
        guard case .processStateUpdate(let update) = try await connector.send(Self.request, to: "p1") else {
            Issue.record("expected a state update")
            return
        }
        #expect(update.state == .suspended)
        // Kept open between requests: the next one uses the same connection.
        _ = try await connector.send(Self.request, to: "p1")
        #expect(await peer.accepted.value == 3)
    }
}

extension ProcessConnectorTests {
    @Test("an answer about another process, or of the wrong kind, is not taken for the reply")
    func outOfStep() async throws {
        let peer = try await Peer(answer: Self.running(as: "p2"))
        defer { Task { await peer.stop() } }
        let connector = ProcessConnector(route: .direct(host: "127.0.0.1", port: peer.port))
        await #expect(throws: ProcessConnectorError.broken(processId: "p1", reason: "the answer is about process p2")) {
            try await connector.send(Self.request, to: "p1")
        }
        var connection = Connection_ConnectionMessage()
        connection.mode = .terminate
        connection.connectionID = "c1"
        await #expect(throws: ProcessConnectorError.broken(processId: "p1", reason: "a ProcessStateUpdateMessage answered a ConnectionMessage")) {
            try await connector.send(.connection(connection), to: "p1")
        }
    }

    @Test("requests sent at once to one process go one after another over one connection")
    func concurrentRequests() async throws {
        // The peer answers each request 20 ms later, without waiting to read the next: a request
        // written before the previous one was answered shows as two in flight.
        let inFlight = Gauge()
        let frameSize = try Self.request.frame().count
        let answer = Self.running(as: "p1")
        let peer = try await Peer(answerReading: { outbound, received in
            for _ in 0..<max(1, received / frameSize) {
                await inFlight.rise()
                Task {
                    try await Task.sleep(for: .milliseconds(20))
                    await inFlight.fall()
                    try await answer(outbound)
                }
            }
        })
        defer { Task { await peer.stop() } }
        let connector = ProcessConnector(route: .direct(host: "127.0.0.1", port: peer.port))
        let replies = try await withThrowingTaskGroup(of: ProtocolMessage.self) { group in
            for _ in 0..<8 { group.addTask { try await connector.send(Self.request, to: "p1") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(replies.count == 8)
        #expect(await peer.accepted.value == 1)
        #expect(await inFlight.highest == 1)
    }
}

/// How many requests a peer holds unanswered, and the most it ever held.
actor Gauge {
    private(set) var current = 0
    private(set) var highest = 0
    func rise() {
        current += 1
        highest = max(highest, current)
    }
    func fall() { current -= 1 }
}

/// Counts what a peer saw (requests, connections), to script its answers.
actor Counter {
    private var count = 0
    var value: Int { count }
    func next() -> Int {
        defer { count += 1 }
        return count
    }
}

extension ProcessConnectorTests {
    @Test("a management connection idle past its timeout is closed, and the next request reconnects without an error")
    func idleConnectionsClose() async throws {
        let peer = try await Peer(answer: Self.running(as: "p1"))
        defer { Task { await peer.stop() } }
        let connector = ProcessConnector(route: .direct(host: "127.0.0.1", port: peer.port), idleTimeout: .seconds(3))
        _ = try await connector.send(Self.request, to: "p1")
        // One connection; two when a busy machine let the first idle out before the request went.
        let opened = await peer.accepted.value
        // Kept between requests: one a second later goes over the same connection.
        try await Task.sleep(for: .seconds(1))
        _ = try await connector.send(Self.request, to: "p1")
        let lastUse = ContinuousClock.now
        #expect(await peer.accepted.value == opened, "the connector opened a connection per request")
        var closedAfter: Duration?
        #expect(await eventually(timeout: .seconds(30)) {
            guard await peer.closed.value == opened else { return false }
            closedAfter = ContinuousClock.now - lastUse
            return true
        }, "the idle connection stayed open")
        // Closed at the idle timeout, not before it (the poll adds a little).
        #expect(closedAfter.map { $0 >= .milliseconds(2800) } == true, "closed \(String(describing: closedAfter)) after its last use")
        // Answered without an error, on a new connection (more than one when a busy machine
        // lets the new one idle out before the request is written: it is sent again).
        _ = try await connector.send(Self.request, to: "p1")
        #expect(await peer.accepted.value > opened)
    }
}
