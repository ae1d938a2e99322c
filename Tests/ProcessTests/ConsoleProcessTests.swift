import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// The real `defpi console` in tmux: a meter deployed through the wizard, upgraded, moved to
/// another node, its logs read and its audit trail, then terminated, with keys alone; Docker
/// shows each step.
@Suite("Console process lifecycle", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct ConsoleProcessTests {
    @Test("deploy with the wizard, upgrade, move, read the logs and the audit trail, terminate: keys only")
    func lifecycleByKeys() async throws {
        let (manager, worker) = (TestBed.processNodes[0], TestBed.processNodes[1])
        let bed = try await MeterBed(versions: ["1.0.0", "1.1.0"])
        let docker = bed.docker

        try await SwarmGateway.turn {
            try await bed.classifyForAlice([worker, manager])
            let console = try TmuxSession.console(environment: bed.environment)
            defer { console.kill() }
            #expect(await console.sees("Nodes ["), "\(console.capture())")
            console.send("2")

            // The wizard: owner, service, version (down to 1.0.0), anywhere, then name and configuration.
            console.send("n")
            #expect(await console.sees("deploy for which user?"), "\(console.capture())")
            console.send("Enter")
            #expect(await console.sees("deploy which service?"), "\(console.capture())")
            console.send("Enter")
            #expect(await console.sees("which version of meter?"), "\(console.capture())")
            console.send("Down")
            console.send("Enter")
            #expect(await console.sees("where should meter 1.0.0 run?") && console.capture().contains("2 nodes can take it"),
                    "\(console.capture())")
            console.send("Enter")
            #expect(await console.sees("name and configuration"), "\(console.capture())")
            console.send("-l", "name=meter-c INTERVAL=0.2")
            console.send("Enter")
            #expect(await console.sees("queued: process meter-c: deploy meter 1.0.0"), "\(console.capture())")
            #expect(await console.row("meter-c", contains: "meter:1.0.0", "running"), "\(console.capture())")
            let listed = try await bed.defpi("process", "show", "meter-c", "-o", "json").stdout
            let process = try #require((try? JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [String: Any])?["id"] as? String)

            // Upgrade: 1.1.0 is offered first; the version it runs cannot be picked.
            console.send("u")
            #expect(await console.sees("is the version it runs"), "\(console.capture())")
            console.send("Enter")
            #expect(await console.row("meter-c", contains: "meter:1.1.0", "running"), "\(console.capture())")

            // Move to the other node: anywhere is where it is placed now, so the first node is
            // selected; the pick goes down one when that is where it runs.
            let nodeIds = Dictionary(try await docker.nodes().map { ($0.description.hostname, $0.id) }, uniquingKeysWith: { a, _ in a })
            let runsOnManager = await console.row("meter-c", contains: manager)
            let (target, targetId) = runsOnManager ? (worker, try #require(nodeIds[worker])) : (manager, try #require(nodeIds[manager]))
            console.send("m")
            #expect(await console.sees("move meter-c to") && console.capture().contains("is where it is placed now"), "\(console.capture())")
            if runsOnManager { console.send("Down") }
            #expect(await eventually(timeout: .seconds(5)) {
                console.capture().split(separator: "\n").contains { $0.contains("▸") && $0.contains("node \(target)") }
            }, "\(console.capture())")
            console.send("Enter")
            #expect(await eventually(timeout: .seconds(60)) {
                (try? await docker.service(process)?.spec.taskTemplate.placement?.constraints) == ["node.id == \(targetId)"]
            })
            #expect(await console.row("meter-c", contains: target, "running"), "\(console.capture())")

            // Its logs (followed) and its audit trail.
            console.send("l")
            #expect(await console.sees("runs from reading", within: 20), "\(console.capture())")
            console.send("Escape")
            console.send("a")
            #expect(await console.sees("process.created") && console.capture().contains("change.finished"), "\(console.capture())")
            console.send("Escape")

            console.send("d")
            #expect(await console.sees("terminate meter-c? (y/n)"), "\(console.capture())")
            console.send("y")
            #expect(await eventually(timeout: .seconds(60)) { (try? await docker.service(process)) == nil })
            // Its row shows a moment marked deleted, then goes, though nothing else changes.
            #expect(await eventually(timeout: .seconds(10)) { !console.capture().contains("meter-c ") }, "\(console.capture())")
            console.send("q")
            #expect(await eventually(timeout: .seconds(5)) { !console.isRunning })
        }
    }
}
