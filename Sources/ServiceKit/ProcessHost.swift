import Foundation
import Logging
import NIOCore
import NIOPosix
import Protocol

/// Runs a dEF-Pi service in its process: listens for the orchestrator on the management port
/// (4999), tells the orchestrator it started (`PUT /process/trigger/{id}`), answers every
/// management message through the service, and returns once the process was suspended or
/// terminated.
///
/// ```swift
/// await ProcessMain.run { try await ProcessHost(service: Meter(), interfaces: Meter.interfaces).run() }
/// ```
public final class ProcessHost<Service: DefPiService>: Sendable {
    public let identity: ProcessIdentity
    private let runtime: ProcessRuntime<Service>
    private let managementPort: Int
    private let logger: Logger
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// `identity` defaults to the container's environment (`PROCESS_ID` ...); `callTimeout`
    /// bounds each call into the service.
    /// The management port is 4999 unless `managementPort` or `$DEFPI_MANAGEMENT_PORT` says
    /// otherwise (for running several processes on one host, outside a swarm).
    public convenience init(service: Service, interfaces: [InterfaceHandler] = [], identity: ProcessIdentity? = nil,
                            managementPort: Int? = nil, callTimeout: Duration = .seconds(5)) throws {
        let port = managementPort ?? ProcessInfo.processInfo.environment["DEFPI_MANAGEMENT_PORT"].flatMap(Int.init)
        try self.init(service: service, interfaces: interfaces, identity: identity,
                      managementPort: port ?? Framing.managementPort, callTimeout: callTimeout, timing: .init())
    }

    /// With the data connections' heartbeat pace (tests make it faster).
    init(service: Service, interfaces: [InterfaceHandler], identity: ProcessIdentity?, managementPort: Int,
         callTimeout: Duration, timing: DataConnection.Timing) throws {
        guard let identity = identity ?? ProcessIdentity.from(ProcessInfo.processInfo.environment) else {
            throw RuntimeFailure("PROCESS_ID is not set: this program runs as a dEF-Pi process, started by the orchestrator")
        }
        self.identity = identity
        self.managementPort = managementPort
        var logger = Logger(label: "defpi.process")
        logger[metadataKey: "process"] = "\(identity.processId)"
        self.logger = logger
        runtime = ProcessRuntime(
            service: service, identity: identity,
            connections: DataConnections(interfaces: try Self.resolve(interfaces, logger: logger), group: group, timing: timing,
                                         logger: logger),
            callTimeout: callTimeout, logger: logger)
    }

    /// The handlers with the hashes of the interfaces they name, from the interfaces file next
    /// to the executable (or at `$DEFPI_INTERFACES_FILE`). A handler for an interface this
    /// published version does not have is left out, with a warning.
    private static func resolve(_ interfaces: [InterfaceHandler], logger: Logger) throws -> [InterfaceHandler] {
        guard interfaces.contains(where: { $0.lookup != nil }) else { return interfaces }
        let environment = ProcessInfo.processInfo.environment
        let path = environment["DEFPI_INTERFACES_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
                .appendingPathComponent(InterfacesFile.name).path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RuntimeFailure("no \(path): publish the service with `defpi service publish`, which puts it next to the executable, or set DEFPI_INTERFACES_FILE")
        }
        let described: [InterfacesFile.Interface]
        do {
            described = try JSONDecoder().decode([InterfacesFile.Interface].self, from: data)
        } catch {
            throw RuntimeFailure("\(path) is not a list of interfaces: \(error)")
        }
        return interfaces.compactMap { handler in
            let (resolved, missing) = handler.resolved(in: described)
            if let missing { logger.warning("\(handler.name) is not served: \(path) has \(missing)") }
            return resolved
        }
    }

    /// Serves until the orchestrator suspends or terminates the process. `listening` receives
    /// the management port once it is bound (useful with port 0).
    public func run(listening: (@Sendable (Int) -> Void)? = nil) async throws {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "0.0.0.0", port: managementPort, childChannelInitializer: ByteChannel.wrap)
        let port = server.channel.localAddress?.port ?? managementPort
        logger.info("listening for the orchestrator on port \(port)")
        listening?(port)
        try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask {
                do {
                    try await OrchestratorTrigger(identity: self.identity, logger: self.logger, group: self.group).call()
                } catch {
                    // Without the orchestrator the process is of no use: end, so swarm starts it again.
                    self.logger.error("\(error)")
                    try? await server.channel.close()
                    throw error
                }
            }
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    tasks.addTask {
                        if await self.serve(connection) {
                            try? await server.channel.close()
                        }
                    }
                }
            }
            tasks.cancelAll()
        }
        logger.info("process \(identity.processId) ends")
    }

    /// Answers the messages of one management connection in order; true when the process is
    /// done (suspended or terminated) and should stop.
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async -> Bool {
        do {
            return try await connection.executeThenClose { inbound, outbound in
                var decoder = FrameDecoder()
                for try await buffer in inbound {
                    decoder.append(buffer.readableBytesView)
                    while let payload = try decoder.next() {
                        let reply: ProtocolMessage
                        do {
                            reply = await runtime.handle(try ProtocolMessage(payload: payload))
                        } catch {
                            logger.warning("unreadable message from the orchestrator: \(error)")
                            reply = runtime.errorReply("unreadable message: \(error)")
                        }
                        try await outbound.write(ByteBuffer(bytes: try reply.frame()))
                        if await runtime.finished { return true }
                    }
                }
                return false
            }
        } catch {
            logger.info("management connection closed: \(error)")
            return false
        }
    }
}

/// Logging for a process: every line to standard output, flushed as it is written, so `docker
/// service logs` shows it live.
public enum ProcessLogging {
    /// Call once, first thing in `main`, and log through `Logger`.
    public static func bootstrap(level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
