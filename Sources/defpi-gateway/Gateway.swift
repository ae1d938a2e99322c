import Foundation
import NIOCore
import NIOPosix

/// `defpi-gateway`: the relay between an Engine outside the swarm's overlay networks and the
/// processes on them. It runs as a swarm service on the Engine's node, attached to every user
/// network under the alias `orchestrator`, with a host directory mounted at `/run/defpi`:
/// - outbound, the Engine connects to `/run/defpi/gateway.sock`, writes `DIAL <host> <port>\n`,
///   and once the gateway answers `OK\n` the connection carries bytes to and from that address
///   (`ERROR <why>\n` otherwise);
/// - inbound, processes connect to `orchestrator:8080` and the gateway carries their bytes to the
///   Engine's API socket, `/run/defpi/engine.sock`.
@main
enum Gateway {
    static func main() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = environment["DEFPI_GATEWAY_DIRECTORY"] ?? "/run/defpi"
        let port = environment["DEFPI_GATEWAY_PORT"].flatMap(Int.init) ?? 8080
        let group = MultiThreadedEventLoopGroup.singleton
        let dialSocket = directory + "/gateway.sock"
        let engineSocket = directory + "/engine.sock"

        let dialer = try await ServerBootstrap(group: group)
            .bind(unixDomainSocketPath: dialSocket, cleanupExistingSocketFile: true) { Splice.wrap($0) }
        let inbound = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "0.0.0.0", port: port) { Splice.wrap($0) }
        log("relaying \(dialSocket) (DIAL host port) and port \(port) (to \(engineSocket))")

        // Either listener failing ends the gateway, so swarm starts a whole one again.
        try await withThrowingTaskGroup(of: Void.self) { listeners in
            listeners.addTask { try await serve(dialer) { await dial($0, group: group) } }
            listeners.addTask { try await serve(inbound) { await forward($0, to: engineSocket, group: group) } }
            try await listeners.next()
            listeners.cancelAll()
        }
    }

    /// Hands every connection `server` accepts to `handle`, each in a task of its own.
    static func serve(_ server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>,
                      _ handle: @escaping @Sendable (NIOAsyncChannel<ByteBuffer, ByteBuffer>) async -> Void) async throws {
        try await withThrowingDiscardingTaskGroup { tasks in
            try await server.executeThenClose { connections in
                for try await connection in connections { tasks.addTask { await handle(connection) } }
            }
        }
    }

    /// An Engine's connection: read the DIAL line, connect, answer, then carry the bytes.
    static func dial(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, group: any EventLoopGroup) async {
        do {
            try await client.executeThenClose { inbound, outbound in
                var pending = ByteBuffer()
                var lines = inbound.makeAsyncIterator()
                while pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) == nil {
                    guard var more = try await lines.next() else { return }
                    pending.writeBuffer(&more)
                    guard pending.readableBytes < 1024 else {
                        try await outbound.write(ByteBuffer(string: "ERROR the DIAL line is too long\n"))
                        return
                    }
                }
                let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n"))!
                let line = pending.readString(length: newline - pending.readerIndex) ?? ""
                pending.moveReaderIndex(forwardBy: 1)
                let words = line.split(separator: " ")
                guard words.count == 3, words[0] == "DIAL", let port = Int(words[2]) else {
                    try await outbound.write(ByteBuffer(string: "ERROR expected DIAL <host> <port>, got \(line.prefix(80))\n"))
                    return
                }
                let target: NIOAsyncChannel<ByteBuffer, ByteBuffer>
                do {
                    target = try await ClientBootstrap(group: group).connectTimeout(.seconds(5))
                        .connect(host: String(words[1]), port: port) { Splice.wrap($0) }
                } catch {
                    log("DIAL \(words[1]):\(port) failed: \(error)")
                    try await outbound.write(ByteBuffer(string: "ERROR cannot connect to \(words[1]):\(port): \(error)\n"))
                    return
                }
                do {
                    try await outbound.write(ByteBuffer(string: "OK\n"))
                } catch {
                    try? await target.channel.close()
                    throw error
                }
                try await Splice.carry(inbound: &lines, outbound: outbound, pending: pending, other: target,
                                       client: client.channel)
            }
        } catch {
            log("a dialled connection ended: \(error)")
        }
    }

    /// A process's connection to `orchestrator:8080`: carried to the Engine's API socket.
    static func forward(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, to socket: String, group: any EventLoopGroup) async {
        do {
            let engine = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: socket) { Splice.wrap($0) }
            try await client.executeThenClose { inbound, outbound in
                var bytes = inbound.makeAsyncIterator()
                try await Splice.carry(inbound: &bytes, outbound: outbound, pending: ByteBuffer(), other: engine,
                                       client: client.channel)
            }
        } catch {
            log("a call to the Engine at \(socket) failed: \(error)")
            try? await client.channel.close()
        }
    }

    static func log(_ text: String) {
        print("\(Date().formatted(.iso8601)) defpi-gateway: \(text)")
        fflush(nil)
    }
}

/// Carrying bytes both ways between two connections until either side is done.
enum Splice {
    static func wrap(_ channel: any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> {
        channel.eventLoop.makeCompletedFuture {
            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
    }

    /// Copies what `inbound` (already opened, with `pending` bytes read ahead) delivers to
    /// `other`, and what `other` delivers to `outbound`, until either side closes; then both
    /// connections end (`client` is the one `inbound` reads from).
    static func carry(inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                      outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, pending: ByteBuffer,
                      other: NIOAsyncChannel<ByteBuffer, ByteBuffer>, client: any Channel) async throws {
        try await other.executeThenClose { otherInbound, otherOutbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { client.close(promise: nil) }
                    for try await buffer in otherInbound { try await outbound.write(buffer) }
                }
                defer { other.channel.close(promise: nil) }
                if pending.readableBytes > 0 { try await otherOutbound.write(pending) }
                while let buffer = try await inbound.next() { try await otherOutbound.write(buffer) }
            }
        }
    }
}
