import Foundation
import Logging
import Protocol

/// Speaking to running processes through the dEF-Pi management protocol (`ProcessConnector`):
/// sending a started process its configuration or the state it was suspended with, and asking it
/// to suspend or terminate. What it answers is recorded on the latest stored process.
final class ProcessControl: Sendable {
    let connector: ProcessConnector
    private let store: any Store
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.processes")

    init(store: any Store, connector: ProcessConnector, notifications: EngineNotifications) {
        self.store = store
        self.connector = connector
        self.notifications = notifications
    }

    /// `SetConfigMessage` (or `ResumeProcessMessage` when the process was suspended with state),
    /// then the process is RUNNING. A process gone or terminated needs nothing.
    func sendConfiguration(_ processId: String, lease: ChangeLease) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
            throw ChangeObsolete.missing("the process no longer exists")
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
            $0.problem = nil
            $0.suspendedState = nil
        }
    }

    /// Sends a running process a new configuration (`SetConfigMessage`, isUpdate); returns once
    /// it answers RUNNING. An `ErrorMessage` fails for good with the process's reason.
    func update(_ processId: String, configuration: [ProcessParameter]) async throws {
        let process = try await existing(processId)
        var setConfig = Process_SetConfigMessage()
        setConfig.processID = processId
        setConfig.isUpdate = true
        setConfig.config = Dictionary(configuration.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        let reply = try await connector.send(.setConfig(setConfig), to: processId)
        guard try Self.state(in: reply, asked: "configuration update", process: process) == .running else {
            throw ProcessReplyError.unexpected(process: process.name, asked: "configuration update", reply: reply.name)
        }
    }

    /// Asks the process to suspend; stores the state it returns (the process then exits).
    @discardableResult
    func suspend(_ processId: String) async throws -> Data {
        let process = try await existing(processId)
        let reply = try await connector.send(.goToProcessState(Self.goTo(processId, .suspended)), to: processId)
        guard try Self.state(in: reply, asked: "GoToProcessStateMessage", process: process) == .suspended,
              case .processStateUpdate(let update) = reply else {
            throw ProcessReplyError.unexpected(process: process.name, asked: "suspend", reply: "\(reply.name)")
        }
        await connector.disconnect(processId)
        guard update.stateData.count <= ServiceProcess.maximumStateBytes else {
            // Nothing has moved: the process starts again where it was, from its configuration.
            try await saveSuspended(processId, state: nil)
            throw PermanentChangeFailure(
                "process \(process.name) saved a state of \(update.stateData.count) bytes, more than the \(ServiceProcess.maximumStateBytes) a process may keep; it was not moved and starts again where it was, from its configuration")
        }
        try await saveSuspended(processId, state: update.stateData)
        return update.stateData
    }

    /// Records a process suspended with its state. It has exited, so this state is the only
    /// copy: the save retries over conflicts and over a store out of reach for a while.
    private func saveSuspended(_ processId: String, state: Data?) async throws {
        var pause = Duration.milliseconds(250)
        while true {
            do {
                return try await record(processId) {
                    $0.state = .suspended
                    $0.suspendedState = state
                }
            } catch StoreError.unreachable where pause <= .seconds(8) {
                logger.warning("process \(processId) suspended; saving its state failed (store out of reach), trying again")
                try await Task.sleep(for: pause)
                pause *= 2
            }
        }
    }

    /// Asks the process to end; it answers TERMINATED and exits.
    func terminate(_ processId: String) async throws {
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

    private func record(_ processId: String, _ change: (inout ServiceProcess) -> Void) async throws {
        try await ProcessRecord(store: store, notifications: notifications).update(processId, change)
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

/// Sends a started process its configuration (or its saved state) and records it RUNNING; then
/// its connections are made (again) and its auto-connect interfaces connected.
struct SendConfigurationStep: ChangeStep {
    typealias Payload = ProcessSubject

    static let kind: PendingChangeKind = "SEND_CONFIGURATION"

    let control: ProcessControl
    let connections: ConnectionManager

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await control.sendConfiguration(payload.processId, lease: lease)
        try await connections.processRuns(payload.processId)
    }
}

/// Why a trigger call was refused.
public enum TriggerRefusal: UserFacingError, Equatable {
    case unknownProcess(String)
    case wrongToken(String)

    public var failureKind: FailureKind {
        switch self {
        case .unknownProcess: return .notFound
        case .wrongToken: return .forbidden
        }
    }

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
