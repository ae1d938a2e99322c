import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// `defpi-gateway`: the relay between an Engine outside the swarm's overlay networks and the
/// processes on them. It runs as a swarm service on the Engine's node, attached to every user
/// network under the alias `orchestrator`, with a host directory mounted at `/run/defpi`:
/// - outbound, the Engine connects to `/run/defpi/gateway.sock`, writes
///   `DIAL <process id> 4999\n` (nothing else is dialled: a process's management port), and once
///   the gateway answers `OK\n` the connection carries bytes to and from it (`ERROR <why>\n`
///   otherwise);
/// - inbound, processes connect to `orchestrator:8080` and the gateway carries their bytes to the
///   Engine's API socket, `/run/defpi/engine.sock`: the trigger call only (`PUT /process/trigger/`),
///   anything else is answered 403 and closed.
/// The directory is 0750 and the socket 0660; each listener takes at most `maximumConnections`
/// connections at once and closes a connection idle for `idleTimeout`; port 8080 takes at most
/// `maximumPerSource` from one address (one process), so no process takes every tenant's slots.
@main
enum Gateway {
    /// Runs the gateway; a listener that cannot start (its port taken) ends it with one line and
    /// status 1, so swarm starts it again, never with a trap.
    static func main() async {
        do {
            try await run()
        } catch {
            log("stopped: \(error)")
            exit(1)
        }
    }

    static func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = environment["DEFPI_GATEWAY_DIRECTORY"] ?? "/run/defpi"
        let port = environment["DEFPI_GATEWAY_PORT"].flatMap(Int.init) ?? 8080
        let maximumConnections = environment["DEFPI_GATEWAY_MAX_CONNECTIONS"].flatMap(Int.init) ?? 512
        let maximumPerSource = environment["DEFPI_GATEWAY_MAX_PER_SOURCE"].flatMap(Int.init) ?? 16
        let idleTimeout = TimeAmount.seconds(Int64(environment["DEFPI_GATEWAY_IDLE_SECONDS"].flatMap(Int.init) ?? 300))
        let group = MultiThreadedEventLoopGroup.singleton
        let dialSocket = directory + "/gateway.sock"
        let engineSocket = directory + "/engine.sock"

        // Each listener counts its own connections.
        let dialLimits = Limits(maximumConnections: maximumConnections, idleTimeout: idleTimeout)
        let inboundLimits = Limits(maximumConnections: maximumConnections, idleTimeout: idleTimeout, maximumPerSource: maximumPerSource)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o750)
        let dialer = try await ServerBootstrap(group: group)
            .bind(unixDomainSocketPath: dialSocket, cleanupExistingSocketFile: true) { dialLimits.accept($0) }
        chmod(dialSocket, 0o660)
        let inbound = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "0.0.0.0", port: port) { inboundLimits.accept($0) }
        log("relaying \(dialSocket) (DIAL <process id> 4999) and port \(port) (the trigger call, to \(engineSocket))")

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
                guard words.count == 3, words[0] == "DIAL", isProcessId(words[1]), words[2] == managementPort else {
                    try await outbound.write(ByteBuffer(string: "ERROR expected DIAL <process id> \(managementPort), got \(line.prefix(80))\n"))
                    return
                }
                let port = Int(managementPort)!
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

    /// The management port of every process (`Framing.managementPort`; the gateway carries no
    /// protocol code of its own).
    static let managementPort = "4999"

    /// Whether `host` is a process id: 24 hexadecimal digits, the swarm alias of a process.
    static func isProcessId(_ host: Substring) -> Bool {
        host.utf8.count == 24 && host.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// What a process may ask of the Engine through the gateway: its trigger call, nothing else.
    static let triggerRequest = "PUT /process/trigger/"

    /// A process's connection to `orchestrator:8080`: its trigger call is carried to the Engine's
    /// API socket; any other request is answered 403.
    static func forward(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, to socket: String, group: any EventLoopGroup) async {
        do {
            try await client.executeThenClose { inbound, outbound in
                var bytes = inbound.makeAsyncIterator()
                var pending = ByteBuffer()
                while pending.readableBytes < triggerRequest.utf8.count {
                    guard var more = try await bytes.next() else { return }
                    pending.writeBuffer(&more)
                }
                guard pending.readableBytesView.starts(with: triggerRequest.utf8) else {
                    try await outbound.write(ByteBuffer(string: "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
                    return
                }
                let engine = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: socket) { Splice.wrap($0) }
                try await Splice.carry(inbound: &bytes, outbound: outbound, pending: pending, other: engine,
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

/// The limits of each listener: how many connections at once, from one address at most, and
/// how long one may stay idle.
final class Limits: Sendable {
    let maximumConnections: Int
    let idleTimeout: TimeAmount
    /// nil: no limit per address (the Engine's own socket).
    let maximumPerSource: Int?
    private let open = Atomic<Int>(0)
    private let bySource = Mutex<[String: Int]>([:])

    init(maximumConnections: Int, idleTimeout: TimeAmount, maximumPerSource: Int? = nil) {
        self.maximumConnections = maximumConnections
        self.idleTimeout = idleTimeout
        self.maximumPerSource = maximumPerSource
    }

    /// Sets up an accepted connection: closed at once above a limit, else watched for idleness
    /// and counted until it closes.
    func accept(_ channel: any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> {
        if open.wrappingAdd(1, ordering: .relaxed).newValue > maximumConnections {
            Gateway.log("refused a connection: \(maximumConnections) are open already")
            channel.close(promise: nil)
        } else if let maximumPerSource {
            let source = channel.remoteAddress?.ipAddress ?? "unknown"
            let count = bySource.withLock { counts in
                counts[source, default: 0] += 1
                return counts[source]!
            }
            if count > maximumPerSource {
                Gateway.log("refused a connection from \(source): \(maximumPerSource) of its own are open already")
                channel.close(promise: nil)
            }
            channel.closeFuture.whenComplete { _ in
                self.bySource.withLock { counts in
                    counts[source, default: 1] -= 1
                    if counts[source] == 0 { counts.removeValue(forKey: source) }
                }
            }
        }
        channel.closeFuture.whenComplete { _ in self.open.wrappingSubtract(1, ordering: .relaxed) }
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers([IdleStateHandler(allTimeout: idleTimeout), CloseWhenIdle()])
            return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
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
