import Foundation
import Logging
import SampleSupport
import ServiceKit
import SwiftProtobuf
import Synchronization

/// The sample aggregator: receives readings from any number of meters, keeps their sum, and
/// answers each reading with a Setpoint that shares `target` watts among the meters it hears.
/// Its counter is the number of readings received, carried over a suspend and resume.
final class Aggregator: DefPiService {
    struct Configuration: ServiceConfiguration {
        var target: Double = 300
    }

    private struct State {
        var process = "aggregator"
        var configuration = Configuration()
        var readings: Int64 = 0
        var latest: [String: Double] = [:]
    }

    private let state = Mutex(State())
    private let logger = Logger(label: "aggregator")

    var interfaces: [InterfaceHandler] {
        [
            InterfaceHandler(interface: "Readings in", version: "v1", receives: [Samples_Reading.self],
                             sends: [Samples_Setpoint.self]) { MeterLink(aggregator: self, connection: $0) },
            StatusInterface.handler { [self] in
                self.state.withLock { StatusInterface.status(process: $0.process, counter: $0.readings, configuration: $0.configuration) }
            },
        ]
    }

    func start(with configuration: Configuration, process: ProcessIdentity) async throws {
        begin(process: process.processId, configuration: configuration, readings: 0)
    }

    func modify(_ configuration: Configuration) async throws {
        state.withLock { $0.configuration = configuration }
        logger.info("configuration: target=\(configuration.target)")
    }

    func suspend() async throws -> [UInt8] {
        let carried = state.withLock { CarriedState(counter: $0.readings, configuration: $0.configuration) }
        logger.info("suspending after \(carried.counter) readings")
        return Array(try JSONEncoder().encode(carried))
    }

    func resume(from data: [UInt8], process: ProcessIdentity) async throws {
        let carried = try JSONDecoder().decode(CarriedState<Configuration>.self, from: Data(data))
        begin(process: process.processId, configuration: carried.configuration, readings: carried.counter)
    }

    func terminate() async {
        logger.info("terminated after \(state.withLock { $0.readings }) readings")
    }

    private func begin(process: String, configuration: Configuration, readings: Int64) {
        state.withLock { state in
            state.process = process
            state.configuration = configuration
            state.readings = readings
        }
        logger.info("aggregator \(process) runs from reading \(readings): target=\(configuration.target)")
    }

    /// Takes a reading in; returns the Setpoint for its meter.
    fileprivate func take(_ reading: Samples_Reading) -> Samples_Setpoint {
        let (setpoint, total) = state.withLock { state in
            state.readings += 1
            state.latest[reading.meter] = reading.watts
            var setpoint = Samples_Setpoint()
            setpoint.watts = state.configuration.target / Double(max(1, state.latest.count))
            setpoint.readings = state.readings
            return (setpoint, state.latest.values.reduce(0, +))
        }
        logger.info("reading \(setpoint.readings) from \(reading.meter): \(reading.watts) W; total \(total) W")
        return setpoint
    }
}

/// One meter's connection to the aggregator.
private struct MeterLink: ConnectionHandler {
    let aggregator: Aggregator
    let connection: DataConnection

    func received(_ message: any SwiftProtobuf.Message) async {
        guard let reading = message as? Samples_Reading else { return }
        try? await connection.send(aggregator.take(reading))
    }
}
