import Logging
import SampleSupport
import ServiceKit
import SwiftProtobuf
import Synchronization

/// The sample meter: takes a reading every `interval` seconds and sends it on every Readings
/// connection; an aggregator's Setpoint changes what it reports. Its counter is the number of
/// readings taken.
final class Meter: SampleService {
    struct Configuration: ServiceConfiguration {
        var interval: Double = 1
        var watts: Double = 100
    }

    private struct Links {
        var setpoint: Double?
        var connections: [ObjectIdentifier: DataConnection] = [:]
        var ticker: Task<Void, Never>?
    }

    let core = SampleCore<Configuration>(kind: "meter", counting: "reading")
    private let links = Mutex(Links())
    private let logger = Logger(label: "meter")

    var interfaces: [InterfaceHandler] {
        [
            InterfaceHandler(interface: "Readings", version: "v1", receives: [Samples_Setpoint.self],
                             sends: [Samples_Reading.self]) { ReadingsLink(meter: self, connection: $0) },
            core.statusInterface,
        ]
    }

    func start(with configuration: Configuration, process: ProcessIdentity) async throws {
        core.begin(process: process.processId, configuration: configuration)
        startTicking()
    }

    func suspend() async throws -> [UInt8] {
        links.withLock { $0.ticker?.cancel() }
        return try core.carry()
    }

    func resume(from state: [UInt8], process: ProcessIdentity) async throws {
        try core.restore(state, process: process.processId)
        startTicking()
    }

    func terminate() async {
        links.withLock { $0.ticker?.cancel() }
        core.finish()
    }

    private func startTicking() {
        links.withLock { links in
            links.ticker?.cancel()
            links.ticker = Task { await self.tick() }
        }
    }

    private func tick() async {
        while !Task.isCancelled {
            let configuration = core.configuration
            var reading = Samples_Reading()
            reading.meter = core.process
            reading.sequence = core.count()
            let connections = links.withLock { links in
                reading.watts = links.setpoint ?? configuration.watts
                return Array(links.connections.values)
            }
            logger.info("reading \(reading.sequence): \(reading.watts) W to \(connections.count) connections")
            for connection in connections { try? await connection.send(reading) }
            try? await Task.sleep(for: .milliseconds(Int(max(0.05, configuration.interval) * 1000)))
        }
    }

    fileprivate func attach(_ connection: DataConnection) {
        links.withLock { $0.connections[ObjectIdentifier(connection)] = connection }
    }

    fileprivate func detach(_ connection: DataConnection) {
        links.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    fileprivate func apply(_ setpoint: Samples_Setpoint) {
        links.withLock { $0.setpoint = setpoint.watts }
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
