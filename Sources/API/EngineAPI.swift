import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging

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

    /// Serves on a unix socket (the gateway's directory) until the task is cancelled.
    public func serve(unixSocket path: String) async throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: path)
        var logger = Logger(label: "defpi.api")
        logger.logLevel = .notice
        let application = Application(router: router(),
                                      configuration: .init(address: .unixDomainSocket(path: path), serverName: "defpi"),
                                      logger: logger)
        try await application.runService(gracefulShutdownSignals: [])
    }

    private static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = (try? JSONEncoder().encode(["message": message])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
