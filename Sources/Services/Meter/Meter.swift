import Foundation
import Logging
import SampleSupport
import ServiceKit
import SwiftProtobuf
import Synchronization

/// The sample meter: takes a reading every `interval` seconds and sends it on every Readings
/// connection; an aggregator's Setpoint changes what it reports. Its counter is the number of
/// readings taken, carried over a suspend and resume with its configuration.
final class Meter: DefPiService {
    struct Configuration: ServiceConfiguration {
        var interval: Double = 1
        var watts: Double = 100
    }

    private struct State {
        var process = "meter"
        var configuration = Configuration()
        var sequence: Int64 = 0
        var setpoint: Double?
        var connections: [ObjectIdentifier: DataConnection] = [:]
        var ticker: Task<Void, Never>?
    }

    private let state = Mutex(State())
    private let logger = Logger(label: "meter")

    var interfaces: [InterfaceHandler] {
        [
            InterfaceHandler(interface: "Readings", version: "v1", receives: [Samples_Setpoint.self],
                             sends: [Samples_Reading.self]) { ReadingsLink(meter: self, connection: $0) },
            StatusInterface.handler { [self] in
                self.state.withLock { StatusInterface.status(process: $0.process, counter: $0.sequence, configuration: $0.configuration) }
            },
        ]
    }

    func start(with configuration: Configuration, process: ProcessIdentity) async throws {
        begin(process: process.processId, configuration: configuration, sequence: 0)
    }

    func modify(_ configuration: Configuration) async throws {
        state.withLock { $0.configuration = configuration }
        logger.info("configuration: interval=\(configuration.interval) watts=\(configuration.watts)")
    }

    func suspend() async throws -> [UInt8] {
        let carried = state.withLock { state in
            state.ticker?.cancel()
            return CarriedState(counter: state.sequence, configuration: state.configuration)
        }
        logger.info("suspending at reading \(carried.counter)")
        return Array(try JSONEncoder().encode(carried))
    }

    func resume(from data: [UInt8], process: ProcessIdentity) async throws {
        let carried = try JSONDecoder().decode(CarriedState<Configuration>.self, from: Data(data))
        begin(process: process.processId, configuration: carried.configuration, sequence: carried.counter)
    }

    func terminate() async {
        state.withLock { $0.ticker?.cancel() }
        logger.info("terminated after \(state.withLock { $0.sequence }) readings")
    }

    private func begin(process: String, configuration: Configuration, sequence: Int64) {
        logger.info("meter \(process) runs from reading \(sequence): interval=\(configuration.interval) watts=\(configuration.watts)")
        state.withLock { state in
            state.process = process
            state.configuration = configuration
            state.sequence = sequence
            state.ticker?.cancel()
            state.ticker = Task { await self.tick() }
        }
    }

    private func tick() async {
        while !Task.isCancelled {
            let (reading, connections, interval) = state.withLock { state in
                state.sequence += 1
                var reading = Samples_Reading()
                reading.meter = state.process
                reading.watts = state.setpoint ?? state.configuration.watts
                reading.sequence = state.sequence
                return (reading, Array(state.connections.values), state.configuration.interval)
            }
            logger.info("reading \(reading.sequence): \(reading.watts) W to \(connections.count) connections")
            for connection in connections { try? await connection.send(reading) }
            try? await Task.sleep(for: .milliseconds(Int(max(0.05, interval) * 1000)))
        }
    }

    fileprivate func attach(_ connection: DataConnection) {
        state.withLock { $0.connections[ObjectIdentifier(connection)] = connection }
    }

    fileprivate func detach(_ connection: DataConnection) {
        state.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    fileprivate func apply(_ setpoint: Samples_Setpoint) {
        state.withLock { $0.setpoint = setpoint.watts }
        logger.info("setpoint \(setpoint.watts) W (the aggregator has \(setpoint.readings) readings)")
    }
}

/// One Readings connection of the meter.
private struct ReadingsLink: ConnectionHandler {
    let meter: Meter
    let connection: DataConnection

    func connected() async { meter.attach(connection) }
    func resumed() async { meter.attach(connection) }
    func interrupted() async { meter.detach(connection) }
    func suspended() async { meter.detach(connection) }
    func terminated() async { meter.detach(connection) }

    func received(_ message: any SwiftProtobuf.Message) async {
        if let setpoint = message as? Samples_Setpoint { meter.apply(setpoint) }
    }
}
