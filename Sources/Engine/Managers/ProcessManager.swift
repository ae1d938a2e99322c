import Foundation
import Logging
import Protocol

/// The Engine's side of a running process: its start-up call (the trigger), sending it its
/// configuration, or the state it was suspended with, through the queue, and asking it to
/// suspend or terminate. Speaks the dEF-Pi management protocol through the `ProcessConnector`.
public final class ProcessManager: Sendable {
    public let connector: ProcessConnector
    private let store: any Store
    private let queue: PendingChangeManager
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.processes")

    public init(store: any Store, queue: PendingChangeManager, connector: ProcessConnector, notifications: EngineNotifications) {
        self.store = store
        self.queue = queue
        self.connector = connector
        self.notifications = notifications
        queue.register(SendConfigurationStep(processes: self))
    }

    /// The processes `caller` may see: all for an admin, their own for a user.
    public func processes(by caller: Caller) async throws -> [ServiceProcess] {
        let filter: StoreFilter = caller.isAdmin ? .all : .where("userId", is: caller.userId ?? "")
        return try await store.all(ServiceProcess.self, filter)
    }

    /// The connections between processes `caller` may see (both ends are one user's processes).
    public func connections(by caller: Caller) async throws -> [Connection] {
        guard !caller.isAdmin else { return try await store.all(Connection.self) }
        let own = try await processes(by: caller).map { StoreValue.string($0.id) }
        return try await store.all(Connection.self, .isIn("endpoint1.processId", own))
    }

    /// A process called `PUT /process/trigger/{id}` with its token: it has started and listens.
    /// Queues sending it its configuration, unless that is already waiting to be sent; refuses
    /// an unknown process or a wrong token.
    @discardableResult
    public func triggered(processId: String, token: String) async throws -> PendingChange {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
            throw TriggerRefusal.unknownProcess(processId)
        }
        guard Self.constantTimeEqual(process.token, token) else { throw TriggerRefusal.wrongToken(processId) }
        logger.info("process \(process.name) (\(processId)) started and called back")
        if let waiting = try await queue.openChange(of: SendConfigurationStep.kind, on: processId) { return waiting }
        return try await queue.enqueue(PendingChange(
            SendConfigurationStep.self, .init(processId: processId),
            description: "process \(process.name): send its \(process.suspendedState == nil ? "configuration" : "saved state")",
            resources: [processId], userId: process.userId, createdBy: "process \(process.name)"))
    }

    /// `SetConfigMessage` (or `ResumeProcessMessage` when the process was suspended with state),
    /// then the process is RUNNING. A process gone or terminated needs nothing.
    func sendConfiguration(_ processId: String, lease: ChangeLease) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
            throw ChangeObsolete("the process no longer exists")
        }
        guard process.state != .terminated else { throw ChangeObsolete("process \(process.name) was terminated") }
        let message: ProtocolMessage
        if let state = process.suspendedState {
            var resume = Process_ResumeProcessMessage()
            resume.processID = processId
            resume.stateData = state
            message = .resumeProcess(resume)
        } else {
            var setConfig = Process_SetConfigMessage()
            setConfig.processID = processId
            setConfig.isUpdate = false
            setConfig.config = Dictionary(process.configuration.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
            message = .setConfig(setConfig)
        }
        try lease.check()
        let reply = try await connector.send(message, to: processId)
        let state = try Self.state(in: reply, asked: message.name, process: process)
        guard state == .running else {
            throw ProcessReplyError.unexpected(process: process.name, asked: message.name, reply: "state \(state)")
        }
        try await record(processId) {
            $0.state = .running
            $0.suspendedState = nil
        }
    }

    /// Asks the process to suspend; stores the state it returns (the process then exits).
    @discardableResult
    public func suspend(_ processId: String) async throws -> Data {
        let process = try await existing(processId)
        let reply = try await connector.send(.goToProcessState(Self.goTo(processId, .suspended)), to: processId)
        guard try Self.state(in: reply, asked: "GoToProcessStateMessage", process: process) == .suspended,
              case .processStateUpdate(let update) = reply else {
            throw ProcessReplyError.unexpected(process: process.name, asked: "suspend", reply: "\(reply.name)")
        }
        // The process has exited: this state is the only copy, so the save retries over conflicts.
        try await record(processId) {
            $0.state = .suspended
            $0.suspendedState = update.stateData
        }
        await connector.disconnect(processId)
        return update.stateData
    }

    /// Asks the process to end; it answers TERMINATED and exits.
    public func terminate(_ processId: String) async throws {
        let process = try await existing(processId)
        let reply = try await connector.send(.goToProcessState(Self.goTo(processId, .terminated)), to: processId)
        guard try Self.state(in: reply, asked: "GoToProcessStateMessage", process: process) == .terminated else {
            throw ProcessReplyError.unexpected(process: process.name, asked: "terminate", reply: reply.name)
        }
        try await record(processId) { $0.state = .terminated }
        await connector.disconnect(processId)
    }

    private func existing(_ processId: String) async throws -> ServiceProcess {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
            throw TriggerRefusal.unknownProcess(processId)
        }
        return process
    }

    /// Applies what the process answered to its latest stored version, reading it again when
    /// someone else wrote in between.
    private func record(_ processId: String, _ change: (inout ServiceProcess) -> Void) async throws {
        for attempt in 1...5 {
            var process = try await existing(processId)
            change(&process)
            do {
                _ = try await store.update(process)
                notifications.publish(.entity(.process, id: processId, change: .modified))
                return
            } catch StoreError.conflict where attempt < 5 {
                logger.debug("process \(processId) changed while recording its answer; reading it again")
            }
        }
    }

    private static func goTo(_ processId: String, _ state: Process_ProcessState) -> Process_GoToProcessStateMessage {
        var message = Process_GoToProcessStateMessage()
        message.processID = processId
        message.targetState = state
        return message
    }

    /// The state a reply reports; an `ErrorMessage` fails for good (the process said why).
    private static func state(in reply: ProtocolMessage, asked: String, process: ServiceProcess) throws -> Process_ProcessState {
        switch reply {
        case .processStateUpdate(let update): return update.state
        case .error(let error):
            throw PermanentChangeFailure("process \(process.name) refused the \(asked): \(error.debugInformation)")
        default:
            throw ProcessReplyError.unexpected(process: process.name, asked: asked, reply: reply.name)
        }
    }

    /// Compares tokens in time independent of where they differ.
    static func constantTimeEqual(_ left: String, _ right: String) -> Bool {
        let (a, b) = (Array(left.utf8), Array(right.utf8))
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Sends a started process its configuration (or its saved state) and records it RUNNING.
struct SendConfigurationStep: ChangeStep {
    struct Payload: Codable, Sendable {
        var processId: String
    }

    static let kind: PendingChangeKind = "SEND_CONFIGURATION"

    let processes: ProcessManager

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await processes.sendConfiguration(payload.processId, lease: lease)
    }
}

/// Why a trigger call was refused.
public enum TriggerRefusal: UserFacingError, Equatable {
    case unknownProcess(String)
    case wrongToken(String)

    public var userMessage: String {
        switch self {
        case .unknownProcess(let id): return "there is no process \(id)"
        case .wrongToken(let id): return "the token does not match process \(id)"
        }
    }
}

/// A process answered something the protocol does not allow there.
public enum ProcessReplyError: UserFacingError, Equatable {
    case unexpected(process: String, asked: String, reply: String)

    public var userMessage: String {
        switch self {
        case .unexpected(let process, let asked, let reply):
            return "process \(process) answered the \(asked) with \(reply)"
        }
    }
}
