import DefpiTesting
import Engine
import Foundation
import Testing

extension SwarmNodeTests {
/// The node and pool verbs as an operator runs them, against the test bed's swarm.
@Suite("Node and pool commands", .timeLimit(.minutes(10)))
struct NodeCommandTests {
    let environment: [String: String]
    let workers = TestBed.nodeTestWorkers

    init() throws {
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath, "the test bed's swarm is not up")
        environment = ["DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": TemporaryDirectory.make().path + "/defpi.sqlite"]
    }

    func defpi(_ arguments: String..., environment extra: [String: String] = [:]) async throws -> DefpiCommand.Result {
        try await DefpiCommand.run(arguments, environment: environment.merging(extra) { $1 })
    }

    @Test("node ls shows the swarm as a table and as JSON with stable field names")
    func list() async throws {
        let table = try await defpi("node", "ls")
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("ID ") == true && lines.first?.contains("POOL/OWNER") == true)
        #expect(lines.count == TestBed.nodeNames.count + 1)
        let json = try await defpi("node", "ls", "-o", "json")
        let nodes = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(Set(nodes.compactMap { $0["hostname"] as? String }) == Set(TestBed.nodeNames))
        let keys = Set(nodes[0].keys)
        #expect(keys.isSuperset(of: ["id", "revision", "kind", "name", "dockerId", "hostname", "lastSync", "status",
                                     "architecture", "availability", "role"]))
        #expect(nodes[0]["lastSync"] is Int)
    }

    @Test("classify through a new pool, see it in node show and in Docker's labels, then undo it")
    func classify() async throws {
        #expect(try await defpi("pool", "create", "field").status == 0)
        let classified = try await defpi("node", "classify", workers[0], "--pool", "field", "--name", "field-1")
        #expect(classified.status == 0, "\(classified.stderr)")
        #expect(classified.stdout.contains("done: node field-1: public in pool field"))
        let shown = try await defpi("node", "show", "field-1")
        #expect(shown.stdout.contains("Kind          public"))
        #expect(shown.stdout.contains("Pool          field"))
        #expect(shown.stdout.contains("org.defpi.class=public"))
        let pools = try await defpi("pool", "ls")
        #expect(pools.stdout.contains("field") && pools.stdout.split(separator: "\n").count == 2)

        let refused = try await defpi("pool", "rm", "field")
        #expect(refused.status == 1)
        #expect(refused.stderr == "defpi: pool field still has 1 node(s) (field-1); move them with --move-to POOL or declassify them first\n")
        #expect(try await defpi("node", "declassify", "field-1").status == 0)
        #expect(try await defpi("node", "rename", "field-1", workers[0]).status == 0)
        #expect(try await defpi("pool", "rm", "field").status == 0)
        #expect(try await !defpi("node", "show", workers[0]).stdout.contains("org.defpi."))
    }

    @Test("bad arguments get one clear line and a non-zero status, and change nothing")
    func badInput() async throws {
        let both = try await defpi("node", "classify", workers[0], "--pool", "a", "--owner", "b")
        #expect(both.status != 0 && both.stderr.contains("give exactly one of --pool POOL (public) or --owner USER (private)"))
        let unknown = try await defpi("node", "show", "no-such-node")
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "defpi: no node matches \"no-such-node\"; `defpi node ls` lists them\n")
        let noPool = try await defpi("node", "classify", workers[0], "--pool", "nowhere")
        #expect(noPool.status == 1 && noPool.stderr.contains("no pool matches \"nowhere\""))
        #expect(try await defpi("node", "show", workers[0]).stdout.contains("Kind          unidentified"))
    }

    @Test("without Docker, listing shows the stored state with a warning; a classification stays queued, not lost")
    func dockerDown() async throws {
        #expect(try await defpi("node", "ls").status == 0)
        #expect(try await defpi("pool", "create", "offline").status == 0)
        let down = ["DOCKER_HOST": "unix:///nonexistent/docker.sock"]
        let listed = try await defpi("node", "ls", environment: down)
        #expect(listed.status == 0)
        #expect(listed.stderr.hasPrefix("defpi: warning: showing the stored state: cannot reach Docker at unix:///nonexistent/docker.sock"))
        #expect(listed.stdout.split(separator: "\n").count == TestBed.nodeNames.count + 1)

        let queued = try await defpi("node", "classify", workers[1], "--pool", "offline", "--timeout", "2", environment: down)
        #expect(queued.status == 1)
        #expect(queued.stderr.contains("has not taken effect yet (cannot reach Docker"))
        #expect(queued.stderr.contains("it stays queued"))
        // It is in the queue, waiting for a retry ...
        let changes = try await defpi("change", "ls", "-o", "json").stdout
        let queue = try #require(try JSONSerialization.jsonObject(with: Data(changes.utf8)) as? [[String: Any]])
        let waiting = try #require(queue.first {
            $0["type"] as? String == "NODE_LABELS" && ($0["description"] as? String)?.contains(workers[1]) == true
                && ($0["description"] as? String)?.contains("offline") == true
        }, "\(changes)")
        #expect(["NEW", "FAILED_TEMPORARY"].contains(waiting["state"] as? String), "\(waiting)")
        // ... and with Docker back it takes effect: the node's labels say public, in the pool.
        let retried = try await defpi("change", "retry", try #require(waiting["id"] as? String))
        #expect(retried.status == 0, "\(retried.stderr)")
        let docker = DockerClient(endpoint: try #require(TestBed.dockerEndpoint))
        let labels = try #require(try await docker.nodes().first { $0.description.hostname == workers[1] }).spec.labels
        #expect(labels[NodeLabels.kind] == "public" && labels[NodeLabels.pool] != nil, "\(labels)")
        let declassified = try await defpi("node", "declassify", workers[1], "--timeout", "20")
        #expect(declassified.status == 0, "\(declassified.stderr)")
        #expect(try await defpi("pool", "rm", "offline").status == 0)
    }

    @Test("a user who may not open the Docker socket is told so")
    func permissionDenied() async throws {
        let directory = TemporaryDirectory.make().path
        chmod(directory, 0o777)
        let result = try await DefpiCommand.run(
            ["node", "ls"], environment: ["DOCKER_HOST": environment["DOCKER_HOST"]!, "DEFPI_STORE": directory + "/s.sqlite"],
            launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("permission denied"))
        #expect(result.stderr.contains("run defpi as a user in the docker group, or as root"))
    }
}
}
