import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// Connections on the test bed, as an operator makes them: a meter on one worker and an
/// aggregator on another, wired with `defpi connection create`; readings flow one way and
/// setpoints the other; removed, both ends report it ended and the readings stop.
@Suite("Connection flow", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct ConnectionFlowTests {
    @Test("meter → aggregator on two workers: readings arrive, setpoints go back; removed: both ends TERMINATED, readings stop")
    func meterToAggregator() async throws {
        let workers = [TestBed.processNodes[1], TestBed.processNodes[2]]
        let bed = try await MeterBed(alsoPublish: [.aggregator])
        try await bed.classifyForAlice(workers)
        try await SwarmGateway.turn {
            try await bed.queue([("m1", "meter", workers[0]), ("a1", "aggregator", workers[1])], configuration: ["INTERVAL=0.2"])
            // Wired before either runs: each side is told once its process runs.
            let created = try await bed.defpi("connection", "create", "m1.readings", "a1.Readings-In", "-o", "json")
            #expect(created.status == 0, "\(created.stderr)")
            let connection = try JSONDecoder().decode(Connection.self, from: Data(created.stdout.utf8))
            #expect(connection.endpoint1.state == nil && connection.endpoint2.state == nil && connection.port == 5000)

            let server = try bed.serve()
            defer { server.kill() }
            let started = ContinuousClock.now
            var shown: Connection?
            let connected = await eventually(timeout: .seconds(90)) {
                shown = try? await Self.connection(connection.id, in: bed)
                return shown?.state == .connected
            }
            #expect(connected, "\(String(describing: shown))\(server.errors)")
            let processes = try JSONSerialization.jsonObject(with: Data(try await bed.defpi("process", "ls", "-o", "json").stdout.utf8))
                as? [[String: Any]] ?? []
            let meterId = try #require(processes.first { $0["name"] as? String == "m1" }?["id"] as? String)
            var logs = ""
            let readings = await eventually(timeout: .seconds(30)) {
                logs = (try? await bed.defpi("process", "logs", "a1", "--tail", "50"))?.stdout ?? ""
                return logs.contains("from \(meterId)")
            }
            #expect(readings, "\(logs)")
            print("connection flow: from both processes queued to the first reading: \(ContinuousClock.now - started)")
            let setpoints = await eventually(timeout: .seconds(20)) {
                logs = (try? await bed.defpi("process", "logs", "m1", "--tail", "50"))?.stdout ?? ""
                return logs.contains("setpoint")
            }
            #expect(setpoints, "\(logs)")

            // A second connection to the meter's single-connection interface is refused, with its reason.
            let refused = try await bed.defpi("connection", "create", "a1.readings-in", "m1.readings")
            #expect(refused.status != 0 && refused.stderr.contains("are already connected"), "\(refused.stderr)")

            let removed = try await bed.defpi("connection", "rm", connection.id)
            #expect(removed.status == 0, "\(removed.stderr)")
            let left = try await bed.defpi("connection", "ls").stdout
            #expect(left.split(separator: "\n").count == 1, "\(left)")
            // Both ends report it ended; the meter sends to nobody.
            for (name, peer) in [("m1", connection.endpoint2.processId), ("a1", connection.endpoint1.processId)] {
                let logs = try await bed.defpi("process", "logs", name, "--tail", "300").stdout
                #expect(logs.contains("connection \(connection.id) to \(peer) terminated"), "\(name): \(logs.suffix(2000))")
            }
            let meterLogs = try await bed.defpi("process", "logs", "m1", "--tail", "100").stdout
            #expect(meterLogs.contains("to 0 connections"), "\(meterLogs)")

            for name in ["m1", "a1"] { #expect(try await bed.defpi("process", "rm", name).status == 0) }
            try await bed.declassify(workers)
        }
    }

    @Test("a meter upgraded to a version whose readings no longer fit: the connection is reported, not told again")
    func upgradeBreaksConnection() async throws {
        let worker = TestBed.processNodes[1]
        let bed = try await MeterBed(alsoPublish: [.aggregator])
        // 2.0.0 sends Status where 1.0.0 sent Reading: not what the aggregator receives.
        let incompatible = try MeterBed.description(of: .meter, replacing: ["sends: [Reading]": "sends: [Status]"])
        try await bed.succeed(["service", "publish", BuiltSample.meter.executable, "--id", "meter", "--version", "2.0.0",
                               "--description", incompatible])
        try await bed.classifyForAlice([worker])
        try await SwarmGateway.turn {
            try await bed.queue([("m1", "meter:1.0.0", worker), ("a1", "aggregator", worker)])
            let server = try bed.serve()
            defer { server.kill() }
            var listed: [Connection] = []
            let connected = await eventually(timeout: .seconds(90)) {
                let json = (try? await bed.defpi("connection", "ls", "-o", "json"))?.stdout ?? ""
                listed = (try? JSONDecoder().decode([Connection].self, from: Data(json.utf8))) ?? []
                return listed.count == 1 && listed[0].state == .connected
            }
            #expect(connected, "auto-connect did not connect m1 and a1: \(listed)")
            let id = try #require(listed.first?.id)

            let upgradeStart = Date()
            let upgraded = try await bed.defpi("process", "upgrade", "m1", "--version", "2.0.0")
            #expect(upgraded.status == 0, "\(upgraded.stderr)")
            var shown: Connection?
            let reported = await eventually(timeout: .seconds(30)) {
                shown = try? await Self.connection(id, in: bed)
                return shown?.problem != nil
            }
            #expect(reported, "\(String(describing: shown))")
            #expect(shown?.problem == "the versions it was made with (v1/v1) no longer fit meter 2.0.0 and aggregator 1.0.0; no versions of the two fit any more")
            let listing = try await bed.defpi("connection", "ls").stdout
            #expect(listing.contains("no longer fit meter 2.0.0"), "\(listing)")

            // Not told again: no side of it is asked to connect after the upgrade, and no reading
            // reaches the aggregator any more.
            func readings() async throws -> Int {
                try await bed.defpi("process", "logs", "a1", "--tail", "10000").stdout.split(separator: "\n")
                    .filter { $0.contains("reading ") && $0.contains(" W; total ") }.count
            }
            let before = try await readings()
            try await Task.sleep(for: .seconds(8))
            #expect(try await readings() == before, "readings still reach the aggregator over a connection that no longer fits")
            let store = try await bed.makeEngine().store
            let told = try await store.all(PendingChange.self, .where("type", is: "CONNECT_ENDPOINT"))
                .filter { $0.created > upgradeStart && $0.resources.contains { $0.hasPrefix("\(id):") } }
            #expect(told.isEmpty, "told again after the upgrade: \(told.map(\.description))")
            for name in ["m1", "a1"] { #expect(try await bed.defpi("process", "rm", name).status == 0) }
            try await bed.declassify([worker])
        }
    }

    static func connection(_ id: String, in bed: MeterBed) async throws -> Connection {
        try JSONDecoder().decode(Connection.self, from: Data(try await bed.defpi("connection", "show", id, "-o", "json").stdout.utf8))
    }
}
