import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// Connections through a process's life on the test bed, with `defpi serve` working the queue:
/// auto-connect makes exactly the connections it should; an aggregator whose container is
/// killed behind defpi's back is restarted by swarm, calls back and gets its connections again
/// without an operator; a meter moved to another node resumes sending.
@Suite("Connection lifecycle", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct ConnectionLifecycleTests {
    @Test("auto-connect: two meters and an aggregator make exactly two connections; a killed aggregator and a moved meter resume, none doubled")
    func autoConnectRestartAndMove() async throws {
        let nodes = TestBed.processNodes
        let bed = try await MeterBed(alsoPublish: [.aggregator])
        try await bed.classifyForAlice(nodes)
        try await SwarmGateway.turn {
            try await bed.queue([("m1", "meter", nodes[1]), ("m2", "meter", nodes[2]), ("a1", "aggregator", nodes[2])], configuration: ["INTERVAL=0.2"])
            let server = try bed.serve()
            defer { server.kill() }
            let ids = try await processIds(bed)
            let (m1, m2, a1) = (try #require(ids["m1"]), try #require(ids["m2"]), try #require(ids["a1"]))
            let expected = Set([Connection.pair(Endpoint(processId: m1, interfaceId: "meter/readings"),
                                                Endpoint(processId: a1, interfaceId: "aggregator/readings-in")),
                                Connection.pair(Endpoint(processId: m2, interfaceId: "meter/readings"),
                                                Endpoint(processId: a1, interfaceId: "aggregator/readings-in"))])
            var listed: [Connection] = []
            let connected = await eventually(timeout: .seconds(120)) {
                listed = (try? await connections(bed)) ?? []
                return listed.count == 2 && listed.allSatisfy { $0.state == .connected }
            }
            #expect(connected, "\(listed)\n\(server.errors.suffix(3000))")
            #expect(Set(listed.map(\.pair)) == expected)

            // The aggregator's container killed: swarm starts another, which calls back; both
            // connections are made again at its side, and readings from both meters reach it.
            let killed = try await killContainer(of: a1, bed: bed)
            var logs = ""
            let resumed = await eventually(timeout: .seconds(90)) {
                logs = (try? await bed.defpi("process", "logs", "a1", "--tail", "2000").stdout) ?? ""
                // The new container says it starts; after that, readings from both meters.
                let starts = logs.components(separatedBy: "aggregator \(a1) runs from reading 0")
                return starts.count >= 3 && [m1, m2].allSatisfy { starts.last!.contains("from \($0)") }
            }
            #expect(resumed, "\(logs.suffix(3000))")
            print("connection lifecycle: readings resumed \(ContinuousClock.now - killed) after the aggregator's container was killed")
            listed = try await connections(bed)
            #expect(listed.count == 2 && Set(listed.map(\.pair)) == expected, "\(listed)")

            // m1 (on one worker, a1 on the other) moved to a third node, the manager: suspended,
            // replaced there, resumed; its readings reach a1 again.
            let before = try await bed.defpi("process", "logs", "a1", "--tail", "5000").stdout.components(separatedBy: "from \(m1)").count
            let moved = try await bed.defpi("process", "move", "m1", "--node", nodes[0])
            #expect(moved.status == 0, "\(moved.stderr)")
            let movedAt = ContinuousClock.now
            let flowing = await eventually(timeout: .seconds(60)) {
                logs = (try? await bed.defpi("process", "logs", "a1", "--tail", "5000").stdout) ?? ""
                return logs.components(separatedBy: "from \(m1)").count > before + 3
            }
            #expect(flowing, "\(logs.suffix(3000))")
            print("connection lifecycle: readings resumed \(ContinuousClock.now - movedAt) after the meter's move returned")
            // The aggregator's side was suspended before the meter was, and resumed after.
            let m1Connection = try #require(listed.first { $0.endpoint(of: m1) != nil })
            #expect(logs.contains("connection \(m1Connection.id) to \(m1) suspended")
                    && logs.contains("connection \(m1Connection.id) to \(m1) resumes"), "\(logs.suffix(3000))")
            let settled = await eventually(timeout: .seconds(30)) {
                listed = (try? await connections(bed)) ?? []
                return listed.count == 2 && listed.allSatisfy { $0.state == .connected }
            }
            #expect(settled && Set(listed.map(\.pair)) == expected, "\(listed)")

            for name in ["m1", "m2", "a1"] { #expect(try await bed.defpi("process", "rm", name).status == 0) }
            // The serving engine ends the connections the terminations queued.
            #expect(await eventually(timeout: .seconds(20)) { (try? await connections(bed))?.isEmpty == true })
            try await bed.declassify(nodes)
        }
    }

    func connections(_ bed: MeterBed) async throws -> [Connection] {
        try JSONDecoder().decode([Connection].self, from: Data(try await bed.defpi("connection", "ls", "-o", "json").stdout.utf8))
    }

    func processIds(_ bed: MeterBed) async throws -> [String: String] {
        let listed = try JSONSerialization.jsonObject(with: Data(try await bed.defpi("process", "ls", "-o", "json").stdout.utf8))
            as? [[String: Any]] ?? []
        return Dictionary(listed.compactMap { process in
            (process["name"] as? String).flatMap { name in (process["id"] as? String).map { (name, $0) } }
        }, uniquingKeysWith: { first, _ in first })
    }

    /// Kills the running container of `processId` on its node's own dockerd, as a crash would.
    func killContainer(of processId: String, bed: MeterBed) async throws -> ContinuousClock.Instant {
        var running: DockerTask?
        _ = await eventually(timeout: .seconds(20)) {
            running = try? await bed.docker.tasks(service: processId, desiredState: "running").first { $0.status.state == "running" }
            return running?.status.containerID != nil
        }
        let task = try #require(running)
        let container = try #require(task.status.containerID)
        let hostname = try #require(try await bed.docker.nodes().first { $0.id == task.nodeID }?.description.hostname)
        let socket = "\(ProcessInfo.processInfo.environment["TESTBED_DIR"] ?? "/tmp/defpi-testbed")/nodes/\(hostname.split(separator: "-").last!)/docker.sock"
        // Docker's API through curl: no Docker CLI is needed on the machine.
        let result = try await ChildProcess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                                                  "--unix-socket", socket, "http://docker/v1.41/containers/\(container)/kill"])
        #expect(result.stdout == "204", "killing \(container): \(result.stdout) \(result.stderr)")
        return ContinuousClock.now
    }
}
