import DefpiTesting
import Engine
import Foundation
import Protocol
import SampleSupport
import SwiftProtobuf
import Synchronization
import Testing

@testable import ServiceKit

/// The sample services as real processes on this host (no Docker): the scripted orchestrator
/// configures a meter and an aggregator, connects them, suspends the meter and resumes it in a
/// new process, and reads their status through the Status interface.
@Suite("Sample services", .timeLimit(.minutes(1)))
struct SampleServiceTests {
    /// A sample binary run as process `processId`, its management port, and a connector to it.
    struct SampleProcess {
        let child: ChildProcess
        let connector: ProcessConnector
        let processId: String

        init(_ sample: BuiltSample, processId: String, port: Int, interfacesFile: String) throws {
            child = try ChildProcess(sample.executable, [], environment: [
                "PROCESS_ID": processId, "DEFPI_MANAGEMENT_PORT": "\(port)", "DEFPI_INTERFACES_FILE": interfacesFile,
            ])
            connector = ProcessConnector(route: .direct(host: "127.0.0.1", port: port), connectBudget: .seconds(10))
            self.processId = processId
        }

        func send(_ message: ProtocolMessage) async throws -> ProtocolMessage {
            try await connector.send(message, to: processId)
        }

        /// Waits until a line of its log contains `text`.
        func logged(_ text: String) async -> Bool {
            for _ in 0..<500 {
                if child.output.contains(text) { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return false
        }
    }

    @Test("meter and aggregator: configured, connected, readings and setpoints flow; the meter moves with its counter and configuration")
    func meterAndAggregator() async throws {
        let meterFile = try BuiltSample.meter.interfacesFile()
        let aggregatorFile = try BuiltSample.aggregator.interfacesFile()
        let aggregator = try SampleProcess(.aggregator, processId: "agg-1", port: freePort(), interfacesFile: aggregatorFile)
        let meter = try SampleProcess(.meter, processId: "meter-1", port: freePort(), interfacesFile: meterFile)
        defer { aggregator.child.kill(); meter.child.kill() }

        #expect(Messages.state(of: try await aggregator.send(Messages.setConfig("agg-1", ["TARGET": "200"]))) == .running)
        #expect(Messages.state(of: try await meter.send(Messages.setConfig("meter-1", ["INTERVAL": "0.05", "watts": "50"])))
                == .running)
        #expect(await meter.logged("meter meter-1 runs from reading 0: interval=0.05 watts=50.0"))

        let readingsIn = try BuiltSample.aggregator.hashes("Readings in")
        let readings = try BuiltSample.meter.hashes("Readings")
        let port = freePort()
        #expect(Messages.connectionState(of: try await aggregator.send(Messages.connection(
            .create, "c1", port: port, receives: readingsIn.receivesHash, sends: readingsIn.sendsHash))) == .starting)
        #expect(Messages.connectionState(of: try await meter.send(Messages.connection(
            .create, "c1", port: port, target: "127.0.0.1", receives: readings.receivesHash, sends: readings.sendsHash)))
                == .starting)
        #expect(await aggregator.logged("from meter-1: 50.0 W"), "\(aggregator.child.output)")
        #expect(await meter.logged("setpoint 200.0 W"), "\(meter.child.output)")

        // Suspend: the state carries the counter and the configuration; the process ends.
        let suspended = try await meter.send(Messages.goTo("meter-1", .suspended))
        guard case .processStateUpdate(let update) = suspended, update.state == .suspended else {
            Issue.record("expected SUSPENDED, got \(suspended)")
            return
        }
        struct Carried: Decodable {
            var counter: Int64
            var configuration: [String: Double]
        }
        let carried = try JSONDecoder().decode(Carried.self, from: update.stateData)
        #expect(carried.counter > 0 && carried.configuration == ["interval": 0.05, "watts": 50])
        #expect(await meter.child.exited() == 0)

        // A new meter process resumes from it, counting on.
        let moved = try SampleProcess(.meter, processId: "meter-1", port: freePort(), interfacesFile: meterFile)
        defer { moved.child.kill() }
        #expect(Messages.state(of: try await moved.send(Messages.resume("meter-1", Array(update.stateData)))) == .running)
        #expect(await moved.logged("meter meter-1 runs from reading \(carried.counter): interval=0.05 watts=50.0"))
        #expect(await moved.logged("reading \(carried.counter + 1): "))

        // Its Status interface reports the counter and the configuration.
        let status = try BuiltSample.meter.hashes("Status")
        let reader = StatusReader()
        let probe = try await RunningHost(CounterService(), processId: "probe", interfaces: [
            InterfaceHandler(name: "Status reader", receivesHash: status.sendsHash, sendsHash: status.receivesHash,
                             receives: [Samples_Status.self], sends: [Samples_Text.self]) { reader.attach($0) },
        ])
        let statusPort = freePort()
        _ = try await moved.send(Messages.connection(.create, "s1", port: statusPort, receives: status.receivesHash,
                                                     sends: status.sendsHash))
        _ = try await probe.send(Messages.connection(.create, "s1", port: statusPort, target: "127.0.0.1",
                                                     receives: status.sendsHash, sends: status.receivesHash))
        let report = try #require(await reader.status())
        #expect(report.process == "meter-1" && report.counter > carried.counter)
        #expect(report.configuration == ["interval": "0.05", "watts": "50.0"])

        #expect(Messages.state(of: try await moved.send(Messages.goTo("meter-1", .terminated))) == .terminated)
        #expect(Messages.state(of: try await aggregator.send(Messages.goTo("agg-1", .terminated))) == .terminated)
        #expect(await moved.child.exited() == 0)
        #expect(await aggregator.child.exited() == 0)
        #expect(await moved.logged("terminated after"))
        _ = try await probe.send(Messages.goTo("probe", .terminated))
    }
}

/// The test's end of a Status connection: asks once connected, keeps the answer.
final class StatusReader: Sendable {
    private let received = Mutex<Samples_Status?>(nil)

    func attach(_ connection: DataConnection) -> any ConnectionHandler { Handler(reader: self, connection: connection) }

    func status() async -> Samples_Status? {
        for _ in 0..<500 {
            if let status = received.withLock({ $0 }) { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    struct Handler: ConnectionHandler {
        let reader: StatusReader
        let connection: DataConnection

        func connected() async {
            var ask = Samples_Text()
            ask.text = "status?"
            try? await connection.send(ask)
        }

        func received(_ message: any SwiftProtobuf.Message) async {
            if let status = message as? Samples_Status { reader.received.withLock { $0 = status } }
        }
    }
}

extension SampleServiceTests {
    @Test("echo answers with its prefix and count; a published version without the Status interface runs without it")
    func echo() async throws {
        // The interfaces of a version that has no Status interface.
        let echoOnly = try BuiltSample.echo.interfaces().filter { $0.name != "Status" }
        let file = TemporaryDirectory.make().path + "/defpi-interfaces.json"
        try JSONEncoder().encode(echoOnly).write(to: URL(fileURLWithPath: file))
        let echo = try SampleProcess(.echo, processId: "echo-1", port: freePort(), interfacesFile: file)
        defer { echo.child.kill() }
        #expect(Messages.state(of: try await echo.send(Messages.setConfig("echo-1", ["prefix": "heard: "]))) == .running)
        #expect(await echo.logged("Status v1 is not served"))

        let hashes = try BuiltSample.echo.hashes("Echo")
        let answers = Recorder()
        let probe = try await RunningHost(CounterService(), processId: "probe", interfaces: [
            InterfaceHandler(name: "Echo client", receivesHash: hashes.sendsHash, sendsHash: hashes.receivesHash,
                             receives: [Samples_Text.self], sends: [Samples_Text.self]) { connection in
                answers.connection.withLock { $0 = connection }
                return answers
            },
        ])
        let port = freePort()
        _ = try await echo.send(Messages.connection(.create, "e1", port: port, receives: hashes.receivesHash,
                                                    sends: hashes.sendsHash))
        _ = try await probe.send(Messages.connection(.create, "e1", port: port, target: "127.0.0.1",
                                                     receives: hashes.sendsHash, sends: hashes.receivesHash))
        for _ in 0..<250 where answers.events.withLock({ !$0.contains("connected") }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let connection = try #require(answers.connection.withLock { $0 })
        var text = Samples_Text()
        text.text = "hello"
        try await connection.send(text)
        #expect(await echo.logged("echo 1: hello"))
        for _ in 0..<250 where answers.events.withLock({ !$0.contains("received heard: hello #1") }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(answers.events.withLock { $0 } == ["connected", "received heard: hello #1"])
        _ = try await probe.send(Messages.goTo("probe", .terminated))
        #expect(Messages.state(of: try await echo.send(Messages.goTo("echo-1", .terminated))) == .terminated)
    }
}

extension SampleServiceTests {
    @Test("a refused start, or no PROCESS_ID, ends the program with one clear line and exit status 1, not a trap")
    func refusedStartExitsCleanly() async throws {
        let port = freePort()
        let refusing = try ChildProcess("/usr/bin/env", ["python3", "-c", """
            import http.server, sys
            class Refuse(http.server.BaseHTTPRequestHandler):
                def do_PUT(self):
                    self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers()
                def log_message(self, *args): pass
            http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Refuse).serve_forever()
            """, "\(port)"])
        defer { refusing.kill() }
        let echo = try ChildProcess(BuiltSample.echo.executable, [], environment: [
            "PROCESS_ID": "echo-refused", "DEFPI_MANAGEMENT_PORT": "\(freePort())",
            "DEFPI_INTERFACES_FILE": try BuiltSample.echo.interfacesFile(),
            "ORCHESTRATOR_HOST": "127.0.0.1", "ORCHESTRATOR_PORT": "\(port)", "ORCHESTRATOR_TOKEN": "wrong",
        ])
        let status = await echo.exited()
        #expect(status == 1, "\(echo.output)\(echo.errors)")
        #expect(echo.output.contains("the orchestrator refused the start of process echo-refused: HTTP 403"), "\(echo.output)")
        #expect(!(echo.output + echo.errors).contains("Fatal error"))

        let orphan = try ChildProcess(BuiltSample.echo.executable, [], environment: [:])
        #expect(await orphan.exited() == 1)
        #expect(orphan.output.contains("PROCESS_ID is not set"), "\(orphan.output)\(orphan.errors)")
    }
}
