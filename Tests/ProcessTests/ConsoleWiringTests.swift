import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// The real `defpi console` in tmux wires a meter to an aggregator with keys alone: the
/// interface, the candidate (those that do not fit say why), y; the connections pane shows it
/// connected and the aggregator's log counts the meter's readings.
@Suite("Console wiring", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct ConsoleWiringTests {
    @Test("w on a meter, pick readings, pick the aggregator, y: connected, and the aggregator's counter grows")
    func wireByKeys() async throws {
        let workers = [TestBed.processNodes[1], TestBed.processNodes[2]]
        let bed = try await MeterBed(alsoPublish: [.aggregator], autoConnect: false)
        try await bed.classifyForAlice(workers)
        try await SwarmGateway.turn {
            try await bed.queue([("m1", "meter", workers[0]), ("a1", "aggregator", workers[1])], configuration: ["INTERVAL=0.2"])
            let console = try TmuxSession.console(environment: bed.environment)
            defer { console.kill() }
            #expect(await console.sees("Nodes ["), "\(console.capture())")
            console.send("2")
            #expect(await console.row("m1", contains: "running", within: 90), "\(console.capture())")
            #expect(await console.row("a1", contains: "running", within: 30), "\(console.capture())")

            // Select m1: filter by its name.
            console.send("/")
            console.send("-l", "m1")
            console.send("Enter")
            console.send("w")
            #expect(await console.sees("wire which interface of m1 (meter 1.0.0)"), "\(console.capture())")
            console.send("Enter")  // Readings, the first.
            #expect(await console.sees("connect m1.readings to"), "\(console.capture())")
            #expect(console.capture().contains("a1.status") && console.capture().contains("not compatible"), "\(console.capture())")
            console.send("Enter")  // a1.readings-in, the first.
            #expect(await console.sees("connect m1.readings to a1.readings-in? (y/n)"), "\(console.capture())")
            let wired = ContinuousClock.now
            console.send("y")
            #expect(await console.sees("queued: connection m1.readings ↔ a1.readings-in"), "\(console.capture())")
            var logs = ""
            let reading = await eventually(timeout: .seconds(30)) {
                logs = (try? await bed.defpi("process", "logs", "a1", "--tail", "50"))?.stdout ?? ""
                return logs.contains("reading 1 from")
            }
            #expect(reading, "\(logs)")
            print("console wiring: from y to the aggregator's first reading: \(ContinuousClock.now - wired)")

            console.send("3")
            #expect(await console.row("m1", contains: "readings", "a1", "connected", within: 30), "\(console.capture())")
            print("console wiring: from y to connected in the connections pane: \(ContinuousClock.now - wired)")

            // The aggregator's log, in the console: its counter grows.
            console.send("2")
            console.send("Escape")  // m1's filter goes.
            console.send("/")
            console.send("-l", "a1")
            console.send("Enter")
            console.send("l")
            #expect(await console.sees("reading 5 from", within: 30), "\(console.capture())")
            #expect(await console.sees("reading 15 from", within: 30), "\(console.capture())")
            console.send("Escape")

            // Disconnect from the connections pane, after a y.
            console.send("3")
            console.send("/")
            console.send("-l", "m1")
            console.send("Enter")
            console.send("x")
            #expect(await console.sees("remove connection "), "\(console.capture())")
            console.send("y")
            #expect(await console.row("m1", contains: "(no links)", within: 30), "\(console.capture())")
            console.send("q")

            for name in ["m1", "a1"] { #expect(try await bed.defpi("process", "rm", name).status == 0) }
            try await bed.declassify(workers)
        }
    }
}
