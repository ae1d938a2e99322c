import DefpiTesting
import Engine
import Foundation
import Testing

extension SwarmNodeTests {
/// `defpi serve` and the read-only console as operators run them: the same Engine, headless or
/// watching only, stopped by signals.
@Suite("Serve and signals")
struct ServeTests {
    let socket: String
    let gatewayDirectory = TemporaryDirectory.make().path
    var environment: [String: String]

    init() throws {
        socket = try #require(TestBed.dockerEndpoint?.unixSocketPath, "the test bed's swarm is not up")
        environment = ["DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": StoreBackend.sqlite.freshLocation(),
                       "DEFPI_GATEWAY_DIRECTORY": gatewayDirectory]
    }

    func defpi(_ arguments: String...) async throws -> DefpiCommand.Result {
        try await DefpiCommand.run(arguments, environment: environment)
    }

    func orgLabels(_ hostname: String) async throws -> [String: String] {
        let docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        let node = try #require(try await docker.nodes().first { $0.description.hostname == hostname })
        return node.spec.labels.filter { $0.key.hasPrefix("org.defpi.") }
    }

    /// What the API socket answers to a trigger of an unknown process ("" when nothing answers).
    func apiAnswer() async throws -> String {
        try await ChildProcess.run("/usr/bin/curl", [
            "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "X-Auth-Token: x",
            "--unix-socket", gatewayDirectory + "/engine.sock", "http://defpi/process/trigger/\(ObjectID.generate())",
        ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("serve carries out what verbs queue, answers on the API socket, and stops on SIGTERM and SIGHUP")
    func serve() async throws {
        let worker = TestBed.nodeTestWorkers[0]
        #expect(try await defpi("pool", "create", "served").status == 0)
        let server = try DefpiCommand.spawn(["serve"], environment: environment)
        defer { server.kill() }
        let queued = try await defpi("node", "classify", worker, "--pool", "served", "--detach")
        #expect(queued.status == 0 && queued.stdout.hasPrefix("queued: "), "\(queued.stderr)")
        #expect(await eventually(timeout: .seconds(20)) { (try? await orgLabels(worker))?["org.defpi.class"] == "public" },
                "\(server.errors)")
        #expect(await eventually(timeout: .seconds(10)) { (try? await apiAnswer()) == "404" })

        kill(server.pid, SIGTERM)
        #expect(await server.exited() == 0, "\(server.errors)")
        #expect(server.errors.contains("serving: store") && server.errors.contains("stopped"), "\(server.errors)")

        let second = try DefpiCommand.spawn(["serve", "--log-level", "notice"], environment: environment)
        defer { second.kill() }
        // Once it answers on the API socket, its signal handlers are in place.
        #expect(await eventually(timeout: .seconds(10)) { (try? await apiAnswer()) == "404" })
        kill(second.pid, SIGHUP)
        #expect(await second.exited() == 0, "\(second.errors)")
        _ = try await defpi("node", "declassify", worker)
    }

    @Test("a read-only console works no queue and serves no API; a signal quits it")
    func readOnlyConsole() async throws {
        let worker = TestBed.nodeTestWorkers[1]
        #expect(try await defpi("pool", "create", "watched").status == 0)
        let console = try TmuxSession("\(DefpiCommand.executable.path) console --read-only --log \(TemporaryDirectory.make().path)/console.log",
                                      environment: environment)
        defer { console.kill() }
        #expect(await eventually(timeout: .seconds(10)) { console.capture().contains(worker) }, "\(console.capture())")
        let queued = try await defpi("node", "classify", worker, "--pool", "watched", "--detach")
        #expect(queued.status == 0)
        try await Task.sleep(for: .seconds(3))
        // Other tests on the swarm may label this node for their own stores: only this change's pool counts.
        #expect(try await orgLabels(worker)["org.defpi.pool"] != "watched", "a read-only console carried out a change")
        #expect(try await apiAnswer() == "000", "a read-only console serves the API")
        let waiting = try await defpi("change", "ls", "--state", "new", "-o", "json")
        #expect(waiting.stdout.contains("public in pool watched"))

        // The verb settles its own change when nothing else works the queue; then a signal quits.
        #expect(try await defpi("node", "declassify", worker).status == 0)
        let pane = try await ChildProcess.run("/usr/bin/tmux", ["list-panes", "-t", console.name, "-F", "#{pane_pid}"])
        let pid = try #require(pid_t(pane.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGTERM)
        #expect(await eventually(timeout: .seconds(10)) { !console.isRunning }, "\(console.capture())")
    }
}
}
