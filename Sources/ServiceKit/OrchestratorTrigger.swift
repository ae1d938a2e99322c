import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The call that tells the orchestrator a process has started and is listening:
/// `PUT http://ORCHESTRATOR_HOST:ORCHESTRATOR_PORT/process/trigger/PROCESS_ID` with the header
/// `X-Auth-Token: ORCHESTRATOR_TOKEN`, answered 204. Retried with back-off while the orchestrator
/// cannot be reached or answers 5xx; a refusal (the token or the id is wrong) stops the process,
/// since retrying cannot help.
struct OrchestratorTrigger {
    let identity: ProcessIdentity
    let logger: Logger
    let group: any EventLoopGroup
    var attempts = 12
    var firstDelay: Duration = .milliseconds(250)

    func call() async throws {
        guard let host = identity.orchestratorHost else {
            logger.notice("ORCHESTRATOR_HOST is not set: not telling an orchestrator that this process started")
            return
        }
        var delay = firstDelay
        for attempt in 1...attempts {
            do {
                // An orchestrator that accepts the connection but never answers counts as unreachable.
                let status = try await withDeadline(.seconds(10), what: "the orchestrator's answer") { try await put(host: host) }
                if status == .noContent || status == .ok {
                    logger.info("the orchestrator at \(host):\(identity.orchestratorPort) knows this process started")
                    return
                }
                guard status.code >= 500 else {
                    throw TriggerRefused(description: "the orchestrator refused the start of process \(identity.processId): HTTP \(status.code) \(status.reasonPhrase)")
                }
                logger.warning("trigger attempt \(attempt): HTTP \(status.code)")
            } catch let refusal as TriggerRefused {
                throw refusal
            } catch {
                logger.warning("trigger attempt \(attempt): cannot reach the orchestrator at \(host):\(identity.orchestratorPort): \(error)")
            }
            guard attempt < attempts else { break }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(10))
        }
        throw RuntimeFailure("the orchestrator at \(host):\(identity.orchestratorPort) could not be told this process started after \(attempts) attempts")
    }

    @Sendable private func put(host: String) async throws -> HTTPResponseStatus {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .connect(host: host, port: identity.orchestratorPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .PUT, uri: "/process/trigger/\(identity.processId)")
            head.headers.add(name: "Host", value: "\(host):\(identity.orchestratorPort)")
            head.headers.add(name: "X-Auth-Token", value: identity.orchestratorToken ?? "")
            head.headers.add(name: "Content-Length", value: "0")
            head.headers.add(name: "Connection", value: "close")
            try await outbound.write(.head(head))
            try await outbound.write(.end(nil))
            for try await part in inbound {
                if case .head(let response) = part { return response.status }
            }
            throw RuntimeFailure("the orchestrator closed the connection without an answer")
        }
    }
}

/// The orchestrator answered the trigger, and the answer was no: retrying cannot help.
struct TriggerRefused: Error, CustomStringConvertible {
    let description: String
}
