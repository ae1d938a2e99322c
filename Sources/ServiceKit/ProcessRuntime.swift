import Logging
import Protocol
import Synchronization

/// The process side of the management protocol: turns each message from the orchestrator into
/// calls on the service (one at a time, each within a time limit) and answers it. Nothing the
/// orchestrator sends is left without an answer: a failure is an `ErrorMessage` that says why.
actor ProcessRuntime<Service: DefPiService> {
    let service: Service
    let identity: ProcessIdentity
    let connections: DataConnections
    let callTimeout: Duration
    private let logger: Logger
    private var configured = false
    private(set) var state: Process_ProcessState = .starting
    /// Whether the process should end once the reply is sent: it was suspended or terminated.
    private(set) var finished = false

    init(service: Service, identity: ProcessIdentity, connections: DataConnections, callTimeout: Duration, logger: Logger) {
        self.service = service
        self.identity = identity
        self.connections = connections
        self.callTimeout = callTimeout
        self.logger = logger
    }

    /// The last message's turn: messages are answered one after another, even when they arrive
    /// on two management connections at once.
    private var tail: Task<Void, Never>?

    /// The answer to one message.
    func handle(_ message: ProtocolMessage) async -> ProtocolMessage {
        let previous = tail
        let turn = Task {
            await previous?.value
            return await self.answerOrError(message)
        }
        tail = Task { _ = await turn.value }
        return await turn.value
    }

    private func answerOrError(_ message: ProtocolMessage) async -> ProtocolMessage {
        do {
            return try await answer(message)
        } catch {
            logger.error("\(message.name) failed: \(error)")
            return errorReply("\(message.name) failed: \(error)")
        }
    }

    /// The `ErrorMessage` of this process saying `text`.
    nonisolated func errorReply(_ text: String) -> ProtocolMessage {
        var reply = Process_ErrorMessage()
        reply.processID = identity.processId
        reply.debugInformation = text
        return .error(reply)
    }

    private func answer(_ message: ProtocolMessage) async throws -> ProtocolMessage {
        switch message {
        case .setConfig(let setConfig):
            try checkProcessId(setConfig.processID)
            let configuration = try ConfigurationDecoder.decode(Service.Configuration.self, from: setConfig.config)
            if configured {
                try await call("modify") { [service] in try await service.modify(configuration) }
                logger.info("configuration updated (\(setConfig.config.count) keys)")
            } else {
                try await call("start") { [service, identity] in try await service.start(with: configuration, process: identity) }
                configured = true
                logger.info("started with \(setConfig.config.count) configuration keys")
            }
            return stateUpdate(.running)

        case .goToProcessState(let request):
            try checkProcessId(request.processID)
            switch request.targetState {
            case .suspended:
                let data = try await call("suspend") { [service] in try await service.suspend() }
                await connections.closeAll()
                finished = true
                logger.info("suspended with \(data.count) bytes of state")
                return stateUpdate(.suspended, data: data)
            case .terminated:
                await connections.closeAll()
                if configured { try await call("terminate") { [service] in await service.terminate() } }
                finished = true
                logger.info("terminated")
                return stateUpdate(.terminated)
            case .running where configured:
                return stateUpdate(.running)
            default:
                throw RuntimeFailure("cannot go to \(request.targetState) from \(state)")
            }

        case .resumeProcess(let resume):
            try checkProcessId(resume.processID)
            let data = [UInt8](resume.stateData)
            try await call("resume") { [service, identity] in try await service.resume(from: data, process: identity) }
            configured = true
            logger.info("resumed from \(data.count) bytes of state")
            return stateUpdate(.running)

        case .connection(let request):
            return .connectionHandshake(try await connections.handle(request))

        case .processStateUpdate, .error, .connectionHandshake:
            throw RuntimeFailure("\(message.name) is sent by processes, not to them")
        }
    }

    private func checkProcessId(_ processId: String) throws {
        guard processId == identity.processId else {
            throw RuntimeFailure("the message is for process \(processId), but this is process \(identity.processId)")
        }
    }

    private func stateUpdate(_ newState: Process_ProcessState, data: [UInt8]? = nil) -> ProtocolMessage {
        state = newState
        var update = Process_ProcessStateUpdateMessage()
        update.processID = identity.processId
        update.state = newState
        if let data { update.stateData = .init(data) }
        return .processStateUpdate(update)
    }

    /// Runs one call into the service, giving up after `callTimeout`.
    private func call<T: Sendable>(_ name: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withDeadline(callTimeout, what: "the service's \(name)()", body)
    }
}

/// Why the runtime refused a message; its text goes to the orchestrator.
struct RuntimeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, or throws when it has not finished within `limit`. A body that ignores
/// cancellation keeps running in the background; its result is dropped.
func withDeadline<T: Sendable>(_ limit: Duration, what: String, _ body: @escaping @Sendable () async throws -> T)
    async throws -> T
{
    let settled = Mutex(false)
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let settle: @Sendable (Result<T, any Error>) -> Void = { result in
            guard settled.withLock({ done in defer { done = true }; return !done }) else { return }
            continuation.resume(with: result)
        }
        let work = Task {
            do { settle(.success(try await body())) } catch { settle(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: limit)
            // Settle first: the cancelled body's own error must not answer in the deadline's place.
            settle(.failure(RuntimeFailure("\(what) did not finish within \(limit)")))
            work.cancel()
        }
    }
}
