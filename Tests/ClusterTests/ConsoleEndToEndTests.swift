import DefpiTesting
import Engine
import Foundation
import Testing

extension SwarmNodeTests {
/// The real `defpi console` binary in tmux, against the test bed's swarm.
@Suite("Console end to end", .timeLimit(.minutes(10)))
struct ConsoleEndToEndTests {
    @Test("the console shows the swarm's nodes, classifies one into a new pool (Docker labels follow), and shows a worker going down and up")
    func nodesLive() async throws {
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath, "the test bed's swarm is not up")
        let store = TemporaryDirectory.make().path + "/defpi.sqlite"
        let environment = ["DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": store]
        let console = try TmuxSession.console(environment: environment)
        defer { console.kill() }
        #expect(await eventually(timeout: .seconds(10)) {
            let screen = console.capture()
            return TestBed.nodeNames.allSatisfy { screen.contains($0) } && screen.contains("Nodes [\(TestBed.nodeNames.count)]")
        }, "\(console.capture())")

        // Classify an unidentified worker as public in a new pool, all from the console.
        let worker = TestBed.nodeTestWorkers[0]
        console.send("n")
        console.send("-l", "field")
        console.send("Enter")
        #expect(await eventually(timeout: .seconds(5)) { console.capture().contains("created pool field") },
                "\(console.capture())")
        console.send("/")
        console.send("-l", worker)
        console.send("Enter")
        console.send("c")
        console.send("-l", "field")
        console.send("Enter")
        #expect(await eventually(timeout: .seconds(10)) {
            console.capture().split(separator: "\n").contains { $0.contains(worker) && $0.contains("public") && $0.contains("field") }
        }, "\(console.capture())")
        let docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        let swarmNode = try #require(try await docker.nodes().first { $0.description.hostname == worker })
        #expect(await eventually(timeout: .seconds(10)) {
            (try? await docker.node(swarmNode.id).spec.labels["org.defpi.class"]) == "public"
        })
        console.send("Escape")
        console.send("4")
        #expect(await eventually(timeout: .seconds(5)) {
            console.capture().contains("node \(worker): public in pool field") && console.capture().contains("finished")
        }, "\(console.capture())")
        console.send("1")

        try await SwarmNodes.turn { () async throws in
        let down = TestBed.nodeTestWorkers[1]
        let bedName = String(down.split(separator: "-").last!)
        #expect(try await TestBed.script("stop-node", bedName, "--kill") == 0)
        var restarted = false
        defer { if !restarted { TestBed.restartNodeBlocking(bedName) } }
        #expect(await eventually(timeout: .seconds(40)) {
            console.capture().split(separator: "\n").contains { $0.contains(down) && $0.contains(" down ") }
        }, "\(console.capture())")
        #expect(try await TestBed.script("start-node", bedName) == 0)
        restarted = true
        #expect(await eventually(timeout: .seconds(40)) {
            console.capture().split(separator: "\n").contains { $0.contains(down) && $0.contains(" ready ") }
        }, "\(console.capture())")
        }
        _ = try await DefpiCommand.run(["node", "declassify", worker], environment: environment)

        console.send("q")
        #expect(await eventually(timeout: .seconds(5)) { !console.isRunning })
    }
}
}
