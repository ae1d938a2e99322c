import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// `defpi process` as an operator runs it against the test bed: a meter deployed on a worker
/// with its own configuration, running there and called back through the gateway; listed,
/// shown, reconfigured, upgraded and moved with its state; refused with reasons when asked the
/// impossible; a task Docker cannot start shown with Docker's reason; terminated without a trace.
@Suite("Process commands", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct ProcessCommandTests {
    @Test("a meter deployed, listed, reconfigured, upgraded and moved with its counter, and removed; refusals say why")
    func createListRemove() async throws {
        let worker = TestBed.processNodes[1]
        let bed = try await MeterBed(versions: ["1.0.0", "1.1.0"])
        let docker = bed.docker
        try await bed.classifyForAlice([worker])

        // Refusals name what is wrong, and leave nothing behind.
        let refusals: [([String], String)] = [
            (["meter:9.9", "--user", "alice"], "service meter has no version 9.9; it has 1.1.0, 1.0.0"),
            (["meter", "--user", "alice", "-e", "1BAD=x"], "\"1BAD\" is not a key"),
            (["meter", "--user", "alice", "--name", "Meter One"], "is not a process name"),
            (["meter", "--user", "alice", "--node", TestBed.processNodes[2]], "no node matches"),
            (["meter", "--user", "alice", "--memory", "lots"], "--memory lots"),
            (["meter"], "name one with --user"),
        ]
        for (arguments, message) in refusals {
            let refused = try await bed.defpi(["process", "create"] + arguments)
            #expect(refused.status != 0 && refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
        }
        func listed() async throws -> [[String: Any]] {
            let json = try await bed.defpi("process", "ls", "-o", "json").stdout
            return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        }
        #expect(try await listed().isEmpty)

        try await SwarmGateway.turn {
            let created = try await bed.defpi("process", "create", "meter:1.0.0", "--user", "alice", "--node", worker, "--name", "meter-a",
                                              "-e", "INTERVAL=0.2", "-e", "WATTS=75", "--memory", "64m")
            #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
            #expect(created.stdout.contains("process meter-a (") && created.stdout.contains("is running"))

            let processes = try await listed()
            let process = try #require(processes.first)
            let id = try #require(process["id"] as? String)
            #expect(processes.count == 1 && process["state"] as? String == "RUNNING" && process["serviceVersion"] as? String == "1.0.0")
            let shown = try await bed.defpi("process", "show", "meter-a")
            #expect(shown.stdout.contains("meter 1.0.0") && shown.stdout.contains("private node \(worker)")
                    && shown.stdout.contains("INTERVAL=0.2, WATTS=75") && shown.stdout.contains("64 MiB"), "\(shown.stdout)")

            // One swarm service, pinned to the worker, on alice's network under the process id.
            let service = try #require(try await docker.service(id))
            let workerId = try await docker.nodes().first { $0.description.hostname == worker }?.id
            #expect(service.spec.taskTemplate.placement?.constraints == ["node.id == \(try #require(workerId))"])
            #expect(service.spec.taskTemplate.networks?.first?.aliases == [id])
            #expect(service.spec.taskTemplate.resources?.limits?.memoryBytes == 64 << 20)
            let env = service.spec.taskTemplate.containerSpec.env ?? []
            #expect(env.contains("PROCESS_ID=\(id)") && env.contains("USER_NAME=alice") && env.contains("ORCHESTRATOR_HOST=orchestrator"))
            let logs = try await bed.defpi("process", "logs", "meter-a", "--tail", "500").stdout
            #expect(logs.contains("meter \(id) runs from reading 0: interval=0.2 watts=75.0"), "\(logs)")

            // A configuration change is applied once the process acknowledges it; one it refuses
            // leaves the old one, and says the process's reason.
            let configured = try await bed.defpi("process", "config", "meter-a", "-e", "WATTS=80", "--unset", "INTERVAL")
            #expect(configured.status == 0, "\(configured.stderr)")
            #expect(try await bed.defpi("process", "config", "meter-a").stdout == "WATTS=80\n")
            let refused = try await bed.defpi("process", "config", "meter-a", "-e", "WATTS=lots")
            #expect(refused.status != 0 && refused.stderr.contains("refused the configuration update"), "\(refused.stderr)")
            #expect(try await bed.defpi("process", "config", "meter-a").stdout == "WATTS=80\n")

            // Upgraded, then moved: each time suspended with its state, resumed from it.
            /// The highest reading a start of the meter resumed from, as its log says.
            func resumedReading() async throws -> Int {
                let output = try await bed.defpi("process", "logs", "meter-a", "--tail", "2000").stdout
                return output.split(separator: "\n").compactMap { line in
                    line.split(separator: "runs from reading ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
                }.max() ?? -1
            }
            try await Task.sleep(for: .seconds(1))
            let upgraded = try await bed.defpi("process", "upgrade", "meter-a", "--version", "1.1.0")
            #expect(upgraded.status == 0 && upgraded.stdout.contains("runs meter 1.1.0"), "\(upgraded.stdout)\(upgraded.stderr)")
            var resumedAt = 0
            #expect(await eventually { resumedAt = (try? await resumedReading()) ?? 0; return resumedAt > 0 },
                    "the upgraded meter did not resume from its counter")
            let manager = TestBed.processNodes[0]
            #expect(try await bed.defpi("node", "classify", manager, "--owner", "alice", "--detach").status == 0)
            try await Task.sleep(for: .seconds(1))
            let moved = try await bed.defpi("process", "move", "meter-a", "--node", manager)
            #expect(moved.status == 0, "\(moved.stdout)\(moved.stderr)")
            let managerId = try await docker.nodes().first { $0.description.hostname == manager }?.id
            #expect(try await docker.service(id)?.spec.taskTemplate.placement?.constraints == ["node.id == \(try #require(managerId))"])
            #expect(await eventually { ((try? await resumedReading()) ?? 0) > resumedAt }, "the moved meter did not resume from its counter")

            // A task Docker cannot start shows as FAILING with Docker's reason, and create says so.
            let broken = try await bed.defpi("process", "create", "meter", "--user", "alice", "--node", worker, "--name", "broken",
                                             "--mount", "/nonexistent/defpi-device:/dev/meter:bind", "--timeout", "30")
            #expect(broken.status != 0 && broken.stderr.contains("is deployed but not running yet: it is FAILING")
                    && broken.stderr.contains("bind source path does not exist"), "\(broken.stderr)")
            #expect(try await bed.defpi("process", "rm", "broken").status == 0)

            let removed = try await bed.defpi("process", "rm", "meter-a")
            #expect(removed.status == 0, "\(removed.stderr)")
            #expect(try await docker.service(id) == nil)
            // The audit trail outlives the process; an admin reads it by the process's id, in order.
            let trail = try await bed.defpi("process", "history", id, "-o", "json").stdout
            let actions = (try? JSONSerialization.jsonObject(with: Data(trail.utf8)) as? [[String: Any]])?.compactMap { $0["action"] as? String }
            #expect(actions?.first == "change.queued" && actions?.contains("process.created") == true
                    && actions?.contains("process.terminated") == true, "\(trail)")
            #expect(try await bed.defpi("process", "history", "meter-a").stderr.contains("meter-a"), "a name no longer resolves")
            #expect(try await listed().isEmpty)
            let users = try await bed.defpi("user", "ls", "-o", "json").stdout
            if let alice = (try? JSONSerialization.jsonObject(with: Data(users.utf8)) as? [[String: Any]])?.first?["id"] as? String {
                try? await Task.sleep(for: .seconds(2))
                try? await docker.removeNetwork("usernet-\(alice)")
            }
        }
    }

    @Test("two meters on different workers, each with its own configuration: one reconfigured, the other untouched")
    func twoMetersOnTwoWorkers() async throws {
        let workers = [TestBed.processNodes[1], TestBed.processNodes[2]]
        let bed = try await MeterBed()
        try await bed.classifyForAlice(workers)
        let names = ["meter-w1", "meter-w2"]
        let configurations = [["INTERVAL=0.2", "WATTS=60"], ["INTERVAL=0.3", "WATTS=90"]]
        let logLines = ["interval=0.2 watts=60.0", "interval=0.3 watts=90.0"]

        try await SwarmGateway.turn {
            for index in 0..<2 {
                let created = try await bed.defpi(["process", "create", "meter", "--user", "alice", "--node", workers[index],
                                                   "--name", names[index]] + configurations[index].flatMap { ["-e", $0] })
                #expect(created.status == 0 && created.stdout.contains("is running"), "\(created.stdout)\(created.stderr)")
            }
            let listing = try await bed.defpi("process", "ls", "-o", "json").stdout
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(listing.utf8)) as? [[String: Any]])
            let nodeIds = Dictionary(try await bed.docker.nodes().map { ($0.description.hostname, $0.id) }) { first, _ in first }
            for index in 0..<2 {
                let process = try #require(listed.first { $0["name"] as? String == names[index] })
                let id = try #require(process["id"] as? String)
                #expect(process["state"] as? String == "RUNNING")
                // Its own service, its task running on its own worker.
                let node = try #require(nodeIds[workers[index]])
                #expect(try await bed.docker.service(id)?.spec.taskTemplate.placement?.constraints == ["node.id == \(node)"])
                #expect(try await bed.docker.tasks(service: id, desiredState: "running").contains {
                    $0.nodeID == node && $0.status.state == "running"
                })
                // Its own configuration, and not the other's.
                #expect(try await bed.defpi("process", "config", names[index]).stdout == configurations[index].joined(separator: "\n") + "\n")
                let logs = try await bed.defpi("process", "logs", names[index], "--tail", "500").stdout
                #expect(logs.contains("meter \(id) runs from reading 0: \(logLines[index])") && !logs.contains(logLines[1 - index]),
                        "\(names[index]): \(logs)")
            }

            let configured = try await bed.defpi("process", "config", names[0], "-e", "WATTS=61")
            #expect(configured.status == 0, "\(configured.stderr)")
            #expect(try await bed.defpi("process", "config", names[0]).stdout == "INTERVAL=0.2\nWATTS=61\n")
            #expect(try await bed.defpi("process", "config", names[1]).stdout == "INTERVAL=0.3\nWATTS=90\n")
            let untouched = try await bed.defpi("process", "logs", names[1], "--tail", "500").stdout
            #expect(!untouched.contains("watts=61"), "the other meter was reconfigured too: \(untouched)")

            for name in names { #expect(try await bed.defpi("process", "rm", name).status == 0) }
            #expect(try await bed.processServices().isEmpty)
        }
    }
}
