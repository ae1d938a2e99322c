import DefpiTesting
import Engine
import Foundation
import Protocol
import SampleSupport
import SwiftProtobuf
import Synchronization
import Testing

@testable import ServiceKit

/// A service that counts: each configuration adds its step; the count is the state carried
/// over a suspend and resume.
final class CounterService: DefPiService {
    struct Configuration: ServiceConfiguration {
        var step: Int = 1
        var hang = false
    }

    let events = Mutex<[String]>([])
    let counter = Mutex(0)

    func record(_ event: String) { events.withLock { $0.append(event) } }

    func start(with configuration: Configuration, process: ProcessIdentity) async throws {
        if configuration.hang { try await Task.sleep(for: .seconds(30)) }
        counter.withLock { $0 += configuration.step }
        record("start \(process.processId) step \(configuration.step)")
    }

    func modify(_ configuration: Configuration) async throws {
        counter.withLock { $0 += configuration.step }
        record("modify step \(configuration.step)")
    }

    func suspend() async throws -> [UInt8] {
        record("suspend")
        return Array("counter=\(counter.withLock { $0 })".utf8)
    }

    func resume(from state: [UInt8], process: ProcessIdentity) async throws {
        let text = String(decoding: state, as: UTF8.self)
        guard text.hasPrefix("counter="), let value = Int(text.dropFirst(8)) else {
            throw RuntimeFailure("unreadable state \(text)")
        }
        counter.withLock { $0 = value }
        record("resume \(value)")
    }

    func terminate() async { record("terminate") }
}

/// A ProcessHost running in this test process on a free port, and a connector to it: the
/// orchestrator's side, scripted.
struct RunningHost {
    let port: Int
    let run: Task<Void, any Error>
    let connector: ProcessConnector
    let processId: String

    init(_ service: some DefPiService, processId: String = "5f4e1a2b3c4d5e6f70819203", interfaces: [InterfaceHandler] = [],
         callTimeout: Duration = .seconds(5), timing: DataConnection.Timing = .init()) async throws {
        let host = try ProcessHost(service: service, interfaces: interfaces, identity: ProcessIdentity(processId: processId),
                                   managementPort: 0, callTimeout: callTimeout, timing: timing)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        run = Task { try await host.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        port = await iterator.next() ?? 0
        self.processId = processId
        connector = ProcessConnector(route: .direct(host: "127.0.0.1", port: port), replyTimeout: .seconds(10),
                                     connectBudget: .seconds(2))
    }

    func send(_ message: ProtocolMessage) async throws -> ProtocolMessage {
        try await connector.send(message, to: processId)
    }

}

enum Messages {
    static func setConfig(_ processId: String, _ config: [String: String], update: Bool = false) -> ProtocolMessage {
        var message = Process_SetConfigMessage()
        message.processID = processId
        message.isUpdate = update
        message.config = config
        return .setConfig(message)
    }

    static func goTo(_ processId: String, _ state: Process_ProcessState) -> ProtocolMessage {
        var message = Process_GoToProcessStateMessage()
        message.processID = processId
        message.targetState = state
        return .goToProcessState(message)
    }

    static func resume(_ processId: String, _ data: [UInt8]) -> ProtocolMessage {
        var message = Process_ResumeProcessMessage()
        message.processID = processId
        message.stateData = Data(data)
        return .resumeProcess(message)
    }

    static func connection(_ mode: Connection_ConnectionMessage.ModeType, _ id: String, port: Int = 0, target: String = "",
                           receives: String = "r1", sends: String = "s1") -> ProtocolMessage {
        var message = Connection_ConnectionMessage()
        message.mode = mode
        message.connectionID = id
        message.listenPort = Int32(port)
        message.targetAddress = target
        message.receiveHash = receives
        message.sendHash = sends
        message.remoteProcessID = "peer"
        return .connection(message)
    }

    static func state(of reply: ProtocolMessage) -> Process_ProcessState? {
        if case .processStateUpdate(let update) = reply { return update.state }
        return nil
    }

    static func errorText(of reply: ProtocolMessage) -> String? {
        if case .error(let error) = reply { return error.debugInformation }
        return nil
    }

    static func connectionState(of reply: ProtocolMessage) -> Connection_ConnectionState? {
        if case .connectionHandshake(let handshake) = reply { return handshake.connectionState }
        return nil
    }
}

@Suite("ServiceKit process host", .timeLimit(.minutes(1)))
struct ProcessHostTests {
    @Test("configure, update, suspend with the state; a new process resumes from it and terminates")
    func lifecycle() async throws {
        let service = CounterService()
        let host = try await RunningHost(service)
        let id = host.processId
        #expect(Messages.state(of: try await host.send(Messages.setConfig(id, ["STEP": "2"]))) == .running)
        #expect(Messages.state(of: try await host.send(Messages.setConfig(id, ["step": "5"], update: true))) == .running)
        let suspended = try await host.send(Messages.goTo(id, .suspended))
        guard case .processStateUpdate(let update) = suspended else {
            Issue.record("expected a state update, got \(suspended)")
            return
        }
        #expect(update.state == .suspended && String(decoding: update.stateData, as: UTF8.self) == "counter=7")
        _ = try await host.run.value  // the process ends after a suspend
        #expect(service.events.withLock { $0 } == ["start \(id) step 2", "modify step 5", "suspend"])

        let moved = CounterService()
        let second = try await RunningHost(moved)
        #expect(Messages.state(of: try await second.send(Messages.resume(id, Array(update.stateData)))) == .running)
        #expect(moved.counter.withLock { $0 } == 7)
        // Configured by the resume: a new configuration is an update.
        #expect(Messages.state(of: try await second.send(Messages.setConfig(id, ["step": "1"], update: true))) == .running)
        #expect(moved.counter.withLock { $0 } == 8)
        #expect(Messages.state(of: try await second.send(Messages.goTo(id, .terminated))) == .terminated)
        _ = try await second.run.value
        #expect(moved.events.withLock { $0 } == ["resume 7", "modify step 1", "terminate"])
    }

    @Test("refusals are answered with an ErrorMessage that says why, and the process carries on")
    func refusals() async throws {
        let service = CounterService()
        let host = try await RunningHost(service, callTimeout: .milliseconds(300))
        let id = host.processId
        let wrongProcess = Messages.errorText(of: try await host.send(Messages.setConfig("another", [:])))
        #expect(wrongProcess?.contains("for process another, but this is process \(id)") == true)
        let badValue = Messages.errorText(of: try await host.send(Messages.setConfig(id, ["STEP": "many"])))
        #expect(badValue?.contains("configuration key STEP: \"many\" is not a valid Int") == true)
        let hung = Messages.errorText(of: try await host.send(Messages.setConfig(id, ["hang": "true"])))
        #expect(hung?.contains("the service's start() did not finish within") == true)
        let notYet = Messages.errorText(of: try await host.send(Messages.goTo(id, .initializing)))
        #expect(notYet?.contains("cannot go to initializing") == true)
        var update = Process_ProcessStateUpdateMessage()
        update.processID = id
        update.state = .running
        let backwards = Messages.errorText(of: try await host.send(.processStateUpdate(update)))
        #expect(backwards?.contains("sent by processes, not to them") == true)
        // Still fine afterwards.
        #expect(Messages.state(of: try await host.send(Messages.setConfig(id, [:]))) == .running)
        _ = try await host.send(Messages.goTo(id, .terminated))
    }

    @Test("connection requests: a repeated CREATE reports the state, ending an unknown one is TERMINATED, the rest is a clear error")
    func connectionEdgeCases() async throws {
        let interface = InterfaceHandler(name: "Echo", receivesHash: "r1", sendsHash: "s1",
                                         receives: [Google_Protobuf_StringValue.self], sends: [Google_Protobuf_StringValue.self],
                                         handler: { _ in Recorder() })
        let host = try await RunningHost(CounterService(), interfaces: [interface])
        let port = freePort()
        #expect(Messages.connectionState(of: try await host.send(Messages.connection(.create, "c1", port: port))) == .starting)
        let again = Messages.connectionState(of: try await host.send(Messages.connection(.create, "c1", port: port)))
        #expect(again == .starting || again == .connected)
        #expect(Messages.connectionState(of: try await host.send(Messages.connection(.terminate, "unknown"))) == .terminated)
        let suspendUnknown = Messages.errorText(of: try await host.send(Messages.connection(.suspend, "unknown")))
        #expect(suspendUnknown?.contains("there is no connection unknown to suspend") == true)
        let wrongHashes = Messages.errorText(of: try await host.send(Messages.connection(.create, "c2", port: port + 1,
                                                                                         receives: "xx", sends: "yy")))
        #expect(wrongHashes?.contains("no interface of this service receives xx and sends yy; it has Echo (r1/s1)") == true)
        let noPort = Messages.errorText(of: try await host.send(Messages.connection(.create, "c3")))
        #expect(noPort?.contains("has no valid port") == true)
        #expect(Messages.connectionState(of: try await host.send(Messages.connection(.terminate, "c1"))) == .terminated)
        _ = try await host.send(Messages.goTo(host.processId, .terminated))
    }
}

/// A connection handler that writes down what happened, and answers "ping" with "pong".
final class Recorder: ConnectionHandler {
    let events = Mutex<[String]>([])
    let connection = Mutex<DataConnection?>(nil)

    init(_ connection: DataConnection? = nil) { self.connection.withLock { $0 = connection } }

    func record(_ event: String) { events.withLock { $0.append(event) } }
    func connected() async { record("connected") }
    func received(_ message: any SwiftProtobuf.Message) async {
        let text = (message as? Google_Protobuf_StringValue)?.value ?? (message as? Samples_Text)?.text ?? "?"
        record("received \(text)")
        if text == "ping", let connection = connection.withLock({ $0 }) {
            try? await connection.send(Google_Protobuf_StringValue("pong"))
        }
    }
    func interrupted() async { record("interrupted") }
    func resumed() async { record("resumed") }
    func suspended() async { record("suspended") }
    func terminated() async { record("terminated") }
}
