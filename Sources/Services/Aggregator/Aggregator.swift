import Logging
import SampleSupport
import ServiceKit
import SwiftProtobuf
import Synchronization

/// The sample aggregator: receives readings from any number of meters, keeps their sum, and
/// answers each reading with a Setpoint that shares `target` watts among the meters it hears.
/// Its counter is the number of readings received.
final class Aggregator: SampleService {
    struct Configuration: ServiceConfiguration {
        var target: Double = 300
    }

    let core = SampleCore<Configuration>(kind: "aggregator", counting: "reading")
    /// The latest reading of each meter.
    private let latest = Mutex<[String: Double]>([:])
    private let logger = Logger(label: "aggregator")

    var interfaces: [InterfaceHandler] {
        [
            InterfaceHandler(interface: "Readings in", version: "v1", receives: [Samples_Reading.self],
                             sends: [Samples_Setpoint.self]) { MeterLink(aggregator: self, connection: $0) },
            core.statusInterface,
        ]
    }

    /// Takes a reading in; returns the Setpoint for its meter.
    fileprivate func take(_ reading: Samples_Reading) -> Samples_Setpoint {
        let (meters, total) = latest.withLock { latest in
            latest[reading.meter] = reading.watts
            return (latest.count, latest.values.reduce(0, +))
        }
        var setpoint = Samples_Setpoint()
        setpoint.watts = core.configuration.target / Double(max(1, meters))
        setpoint.readings = core.count()
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
