import DefpiAPI
import DefpiTesting
@testable import Engine
import Foundation
import Logging
import Testing

/// The whole path on this host, without Docker: a sample meter process calls back through the
/// `defpi-gateway` binary to the Engine's API socket; the Engine sends its configuration through
/// the gateway, suspends it, sends the saved state to its next start, and terminates it.
@Suite("Gateway chain", .timeLimit(.minutes(1)))
struct GatewayChainTests {
    @Test("trigger through the gateway, configuration, suspend with state, resume in a new process, terminate")
    func chain() async throws {
        let directory = TemporaryDirectory.make().path
        let port = freePort()
        let gateway = try ChildProcess(
            DefpiCommand.executable.deletingLastPathComponent().appendingPathComponent("defpi-gateway").path, [],
            environment: ["DEFPI_GATEWAY_DIRECTORY": directory, "DEFPI_GATEWAY_PORT": "\(port)"])
        defer { gateway.kill() }
        #expect(await waitForPort(port), "\(gateway.output)\(gateway.errors)")

        let engine = try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: TemporaryDirectory.make().path + "/defpi.sqlite"),
            docker: DockerEndpoint(unixSocketPath: directory + "/no-docker.sock"), registry: RegistrySettings(),
            gateway: GatewaySettings(directory: directory)))
        let api = Task { try await EngineAPI(engine: engine).serve(unixSocket: engine.settings.gateway.engineSocket) }
        let queue = Task { await engine.queue.run() }
        defer {
            api.cancel()
            queue.cancel()
        }
        // The gateway dials `<processId>:4999`, a name swarm's DNS resolves: here, to this host.
        let alias = try HostAlias(ObjectID.generate())
        let user = try await engine.store.insert(User(username: "alice"))
        let process = try await engine.store.insert(ServiceProcess(
            id: alias.name, name: "meter-1", userId: user.id, serviceId: "meter", serviceVersion: "1.0.0",
            placement: .pool("edge"), configuration: [ProcessParameter(key: "INTERVAL", value: "0.05"),
                                                      ProcessParameter(key: "watts", value: "25")]))
        let environment = [
            "PROCESS_ID": process.id, "ORCHESTRATOR_HOST": "127.0.0.1", "ORCHESTRATOR_PORT": "\(port)",
            "ORCHESTRATOR_TOKEN": process.token, "DEFPI_INTERFACES_FILE": try BuiltSample.meter.interfacesFile(),
        ]

        let first = try ChildProcess(BuiltSample.meter.executable, [], environment: environment)
        defer { first.kill() }
        #expect(await eventually(timeout: .seconds(15)) {
            (try? await engine.store.fetch(ServiceProcess.self, id: process.id))?.state == .running
        }, "\(first.output)\(first.errors)")
        #expect(first.output.contains("meter \(process.id) runs from reading 0: interval=0.05 watts=25.0"))

        let state = try await engine.processes.control.suspend(process.id)
        let carried = try JSONSerialization.jsonObject(with: state) as? [String: Any]
        #expect(await first.exited() == 0)
        let stored = try #require(try await engine.store.fetch(ServiceProcess.self, id: process.id))
        #expect(stored.state == .suspended && stored.suspendedState == state)
        let counter = try #require(carried?["counter"] as? Int)
        #expect(counter > 0)

        let second = try ChildProcess(BuiltSample.meter.executable, [], environment: environment)
        defer { second.kill() }
        #expect(await eventually(timeout: .seconds(15)) {
            (try? await engine.store.fetch(ServiceProcess.self, id: process.id))?.state == .running
        }, "\(second.output)\(second.errors)")
        #expect(second.output.contains("meter \(process.id) runs from reading \(counter): interval=0.05 watts=25.0"))
        #expect(try await engine.store.fetch(ServiceProcess.self, id: process.id)?.suspendedState == nil)

        try await engine.processes.control.terminate(process.id)
        #expect(await second.exited() == 0)
        #expect(try await engine.store.fetch(ServiceProcess.self, id: process.id)?.state == .terminated)
    }

    @Test("a trigger with a wrong token or for an unknown process is refused, with a JSON reason")
    func refusals() async throws {
        let directory = TemporaryDirectory.make().path
        let engine = try await Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: directory + "/defpi.sqlite"),
            docker: DockerEndpoint(unixSocketPath: directory + "/no-docker.sock"), registry: RegistrySettings(),
            gateway: GatewaySettings(directory: directory)))
        let api = Task { try await EngineAPI(engine: engine).serve(unixSocket: engine.settings.gateway.engineSocket) }
        defer { api.cancel() }
        let user = try await engine.store.insert(User(username: "bob"))
        let process = try await engine.store.insert(ServiceProcess(
            name: "echo-1", userId: user.id, serviceId: "echo", serviceVersion: "1", placement: .pool("p")))
        func put(_ id: String, token: String) async throws -> (status: String, body: String) {
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: engine.settings.gateway.engineSocket) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let result = try await ChildProcess.run("/usr/bin/curl", [
                "-s", "-X", "PUT", "-H", "X-Auth-Token: \(token)", "--unix-socket", engine.settings.gateway.engineSocket,
                "-w", "\n%{http_code}", "http://engine/process/trigger/\(id)",
            ])
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
        }
        let wrong = try await put(process.id, token: "guess")
        #expect(wrong.status == "403" && wrong.body == "{\"message\":\"the token does not match process \(process.id)\"}")
        let unknown = try await put("nope", token: process.token)
        #expect(unknown.status == "404" && unknown.body.contains("there is no process nope"))
        let right = try await put(process.id, token: process.token)
        #expect(right.status == "204")
        #expect(try await engine.store.list(PendingChange.self, StoreQuery()).items.map(\.description)
                == ["process echo-1: send its configuration"])
    }
}

extension GatewayChainTests {
    @Test("a second engine on the host leaves the API socket to the first, and takes it over when the first stops")
    func socketTakeover() async throws {
        let directory = TemporaryDirectory.make().path
        func engine() async throws -> Engine {
            try await Engine(settings: EngineSettings(
                store: try StoreLocation(parsing: TemporaryDirectory.make().path + "/defpi.sqlite"),
                docker: DockerEndpoint(unixSocketPath: directory + "/no-docker.sock"), registry: RegistrySettings(),
                gateway: GatewaySettings(directory: directory)))
        }
        let first = try await engine()
        let second = try await engine()
        let user = try await second.store.insert(User(username: "carol"))
        let process = try await second.store.insert(ServiceProcess(
            name: "echo-1", userId: user.id, serviceId: "echo", serviceVersion: "1", placement: .pool("p")))
        let socket = first.settings.gateway.engineSocket
        func status() async throws -> String {
            try await ChildProcess.run("/usr/bin/curl", [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "X-Auth-Token: \(process.token)",
                "--unix-socket", socket, "http://engine/process/trigger/\(process.id)",
            ]).stdout
        }
        let logger = Logger(label: "test")
        let serving = Task { await EngineAPI(engine: first).serveWhenFree(unixSocket: socket, logger: logger) }
        #expect(await eventually(timeout: .seconds(5)) { (try? await status()) == "404" })
        func owner() throws -> Int? { try FileManager.default.attributesOfItem(atPath: socket)[.systemFileNumber] as? Int }
        let firstOwner = try #require(try owner())
        let waiting = Task { await EngineAPI(engine: second).serveWhenFree(unixSocket: socket, logger: logger) }
        defer { waiting.cancel() }
        // Watched over time: the socket stays the first engine's file and the first one answers
        // (it does not know the process: 404), through the second's first look and after.
        var samples: [String] = []
        for _ in 0..<10 {
            samples.append("\(try await status()) \(try owner() == firstOwner ? "first" : "replaced")")
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(samples == Array(repeating: "404 first", count: 10), "the second engine took the socket away: \(samples)")
        serving.cancel()
        #expect(await eventually(timeout: .seconds(15)) { (try? await status()) == "204" })
    }
}
