import DefpiTesting
import Engine
import Foundation
import NIOCore
import NIOPosix
import Protocol
import SwiftProtobuf
import Synchronization
import Testing

@testable import ServiceKit

@Suite("ServiceKit data connections", .timeLimit(.minutes(1)))
struct DataConnectionTests {
    /// A process's side of the test interface: it receives what the other sends and the reverse.
    static func interface(receives: String, sends: String, recorder: Recorder) -> InterfaceHandler {
        InterfaceHandler(name: "Echo", receivesHash: receives, sendsHash: sends, receives: [Google_Protobuf_StringValue.self],
                         sends: [Google_Protobuf_StringValue.self]) { connection in
            recorder.connection.withLock { $0 = connection }
            return recorder
        }
    }

    static func eventually(_ condition: () -> Bool) async -> Bool {
        // Up to 10 s: a full test run keeps both cores busy, and the host's steps queue behind it.
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// Process "a" (receives r1, sends s1) and process "b" (the reverse), with their recorders.
    static func twoProcesses() async throws -> (RunningHost, Recorder, RunningHost, Recorder) {
        let listenerSide = Recorder()
        let connectorSide = Recorder()
        let listener = try await RunningHost(CounterService(), processId: "a", interfaces: [
            interface(receives: "r1", sends: "s1", recorder: listenerSide),
        ], timing: fast)
        let connector = try await RunningHost(CounterService(), processId: "b", interfaces: [
            interface(receives: "s1", sends: "r1", recorder: connectorSide),
        ], timing: fast)
        return (listener, listenerSide, connector, connectorSide)
    }

    static let fast = DataConnection.Timing(firstPing: .milliseconds(50), pingInterval: .milliseconds(100), missedPongLimit: 2,
                                            reconnectDelay: .milliseconds(50), maximumReconnectDelay: .milliseconds(200))

    @Test("two processes: one listens, one connects, the handshake makes both CONNECTED, messages flow both ways; suspend and terminate reach the handlers")
    func exchange() async throws {
        let (listener, listenerSide, connector, connectorSide) = try await Self.twoProcesses()
        let port = freePort()
        #expect(Messages.connectionState(of: try await listener.send(
            Messages.connection(.create, "c1", port: port, receives: "r1", sends: "s1"))) == .starting)
        #expect(Messages.connectionState(of: try await connector.send(
            Messages.connection(.create, "c1", port: port, target: "127.0.0.1", receives: "s1", sends: "r1"))) == .starting)
        #expect(await Self.eventually {
            listenerSide.events.withLock { $0 } == ["connected"] && connectorSide.events.withLock { $0 } == ["connected"]
        })
        #expect(Messages.connectionState(of: try await connector.send(
            Messages.connection(.create, "c1", port: port, target: "127.0.0.1", receives: "s1", sends: "r1"))) == .connected)

        let sending = try #require(connectorSide.connection.withLock { $0 })
        try await sending.send(Google_Protobuf_StringValue("ping"))
        #expect(await Self.eventually { connectorSide.events.withLock { $0.contains("received pong") } })
        #expect(listenerSide.events.withLock { $0 } == ["connected", "received ping"])
        // Heartbeats flow both ways, each side's answered by the other, without disturbing anything.
        let listening = try #require(listenerSide.connection.withLock { $0 })
        let answered = await DefpiTesting.eventually {
            let listened = await listening.heartbeatsAnswered
            let sent = await sending.heartbeatsAnswered
            return listened >= 3 && sent >= 3
        }
        let tally = (listener: await listening.heartbeatsAnswered, connector: await sending.heartbeatsAnswered)
        #expect(answered, "heartbeats answered: \(tally)")
        #expect(listenerSide.events.withLock { !$0.contains("interrupted") })
        // A type the interface does not send is refused before it leaves.
        await #expect(throws: RuntimeFailure.self) { try await sending.send(Google_Protobuf_Int64Value(1)) }

        #expect(Messages.connectionState(of: try await connector.send(Messages.connection(.suspend, "c1"))) == .suspended)
        #expect(connectorSide.events.withLock { $0.last } == "suspended")
        #expect(await Self.eventually { listenerSide.events.withLock { $0.last } == "interrupted" })
        await #expect(throws: RuntimeFailure.self) { try await sending.send(Google_Protobuf_StringValue("ping")) }
        // Resumed at the same address: both sides are CONNECTED again.
        #expect(Messages.connectionState(of: try await connector.send(
            Messages.connection(.resume, "c1", port: port, target: "127.0.0.1", receives: "s1", sends: "r1"))) == .connected)
        #expect(await Self.eventually {
            connectorSide.events.withLock { $0.last } == "resumed" && listenerSide.events.withLock { $0.last } == "resumed"
        })
        #expect(Messages.connectionState(of: try await listener.send(Messages.connection(.terminate, "c1"))) == .terminated)
        #expect(listenerSide.events.withLock { $0.last } == "terminated")
        _ = try await listener.send(Messages.goTo("a", .terminated))
        _ = try await connector.send(Messages.goTo("b", .terminated))
    }

    @Test("a peer that stops answering heartbeats is INTERRUPTED; the listener takes the next peer and resumes")
    func silentPeer() async throws {
        let side = Recorder()
        let host = try await RunningHost(CounterService(), processId: "a",
                                         interfaces: [Self.interface(receives: "r1", sends: "s1", recorder: side)], timing: Self.fast)
        let port = freePort()
        _ = try await host.send(Messages.connection(.create, "c9", port: port, receives: "r1", sends: "s1"))
        let group = MultiThreadedEventLoopGroup.singleton

        // A peer that completes the handshake, then never answers a ping.
        func silentPeer() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
            var attempts = 0
            while true {
                do {
                    return try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
                } catch {
                    attempts += 1
                    guard attempts < 500 else { throw error }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
        }
        var handshake = Connection_ConnectionHandshake()
        handshake.connectionID = "c9"
        handshake.connectionState = .connected
        let frame = try ProtocolMessage.connectionHandshake(handshake).frame()

        for expected in ["connected", "resumed"] {
          // A peer whose handshake the host has not taken up within 3 s tries again with a new
          // connection, as a real peer would (seen once in about four full runs under load).
          var taken = false
          for _ in 0..<3 where !taken {
            let peer = try await silentPeer()
            // A peer the host closed before it took the handshake up (it was still ending the
            // last one) tries again too.
            do { try await peer.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: frame))
                // The host goes on to INTERRUPTED soon after (the fast heartbeat), so look for the event, not the last one.
                for _ in 0..<150 where !side.events.withLock({ $0.contains(expected) }) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                guard side.events.withLock({ $0.contains(expected) }) else { return }
                taken = true
                // Read what the host sends (handshake replies, pings) and answer none of it.
                var received: [UInt8] = []
                var reset = false
                do {
                    for try await buffer in inbound {
                        received += buffer.readableBytesView
                        if side.events.withLock({ $0.last }) == "interrupted" { break }
                    }
                } catch {
                    reset = true  // the host closed the connection first: what it sent may be cut short
                }
                // Three pings went unanswered before the host gave up.
                let ping = Framing.frame([0x0A])
                let pings = received.indices.filter { received[$0...].starts(with: ping) }
                #expect(reset ? (1...3).contains(pings.count) : pings.count == 3)
            } } catch ChannelError.ioOnClosedChannel where !taken {
                continue
            }
          }
          #expect(taken, "the host never took up a peer's handshake for \(expected)")
        }
        #expect(await Self.eventually {
            side.events.withLock { $0 } == ["connected", "interrupted", "resumed", "interrupted"]
        }, "\(side.events.withLock { $0 })")
        _ = try await host.send(Messages.goTo("a", .terminated))
    }

    @Test("suspended while still listening for its peer, then resumed: the port is free again and the peer connects")
    func suspendWhileListening() async throws {
        let (listener, listenerSide, connector, connectorSide) = try await Self.twoProcesses()
        let port = freePort()
        _ = try await listener.send(Messages.connection(.create, "c5", port: port, receives: "r1", sends: "s1"))
        #expect(Messages.connectionState(of: try await listener.send(Messages.connection(.suspend, "c5"))) == .suspended)
        _ = try await listener.send(Messages.connection(.resume, "c5", port: port, receives: "r1", sends: "s1"))
        _ = try await connector.send(Messages.connection(.create, "c5", port: port, target: "127.0.0.1", receives: "s1", sends: "r1"))
        #expect(await Self.eventually {
            listenerSide.events.withLock { $0.last } == "connected" && connectorSide.events.withLock { $0 } == ["connected"]
        }, "\(listenerSide.events.withLock { $0 }) \(connectorSide.events.withLock { $0 })")
        #expect(listenerSide.events.withLock { $0 } == ["suspended", "connected"])
        _ = try await listener.send(Messages.goTo("a", .terminated))
        _ = try await connector.send(Messages.goTo("b", .terminated))
    }
}
