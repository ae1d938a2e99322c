import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// The Engine's HTTP API. Today it serves what processes call: `PUT /process/trigger/{id}` with
/// `X-Auth-Token`, the call a dEF-Pi process makes once it has started (through the gateway, on
/// the Engine's unix socket). Answers 204, or a JSON error: 403 for a wrong token, 404 for an
/// unknown process.
public struct EngineAPI: Sendable {
    public let engine: Engine

    public init(engine: Engine) { self.engine = engine }

    /// The routes, for serving and for tests.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let processes = engine.processes
        router.put("/process/trigger/:id") { request, context -> Response in
            let id = try context.parameters.require("id")
            let token = request.headers[HTTPField.Name("X-Auth-Token")!] ?? ""
            do {
                try await processes.triggered(processId: id, token: token)
                return Response(status: .noContent)
            } catch let refusal as TriggerRefusal {
                switch refusal {
                case .unknownProcess: return Self.error(.notFound, refusal.userMessage)
                case .wrongToken: return Self.error(.forbidden, refusal.userMessage)
                }
            }
        }
        return router
    }

    /// Serves on the unix socket whenever no other defpi does (several consoles may run on one
    /// host; one serves, and another takes over when it stops), until the task is cancelled.
    public func serveWhenFree(unixSocket path: String, logger: Logger) async {
        while !Task.isCancelled {
            if !Self.isServed(path) {
                do {
                    try await serve(unixSocket: path)
                } catch {
                    logger.warning("cannot serve the API socket \(path): \(error)")
                }
            }
            try? await Task.sleep(for: .seconds(5))
        }
    }

    /// Serving the API socket as a service of the program's `ServiceGroup`: it stops serving on
    /// a graceful shutdown.
    public func service(unixSocket path: String) -> some ServiceLifecycle.Service {
        APIService(api: self, socket: path)
    }

    /// Whether a server answers on the unix socket at `path`.
    static func isServed(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let fits = withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            path.utf8CString.withUnsafeBytes { bytes in
                guard bytes.count <= buffer.count else { return false }
                buffer.copyMemory(from: bytes)
                return true
            }
        }
        guard fits else { return false }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    /// Serves on a unix socket (the gateway's directory, 0750; the socket 0660) until the task
    /// is cancelled; a stale socket file is replaced, and connections idle for a minute are closed.
    public func serve(unixSocket path: String) async throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o750)
        try? FileManager.default.removeItem(atPath: path)
        var logger = Logger(label: "defpi.api")
        logger.logLevel = .notice
        let application = Application(router: router(), server: .http1(configuration: .init(idleTimeout: .seconds(60))),
                                      configuration: .init(address: .unixDomainSocket(path: path), serverName: "defpi"),
                                      onServerRunning: { _ in chmod(path, 0o660) }, logger: logger)
        // Cancelling the caller shuts the server down gracefully: a hard stop while a connection
        // is being accepted trips NIO's check that every writer is finished.
        let services = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let running = Task { try await services.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await services.triggerGracefulShutdown() }
        }
    }

    private static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = (try? JSONEncoder().encode(["message": message])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// `EngineAPI.serveWhenFree` as a service.
struct APIService: ServiceLifecycle.Service {
    let api: EngineAPI
    let socket: String

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await api.serveWhenFree(unixSocket: socket, logger: Logger(label: "defpi.api"))
        }
    }
}
