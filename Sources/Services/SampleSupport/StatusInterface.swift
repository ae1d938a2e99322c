import ServiceKit
import SwiftProtobuf

/// The Status interface every sample service offers: send it any `Text` and it answers with a
/// `Status` (the process, its state counter and its configuration), so tests and operators can
/// see what a process knows.
public enum StatusInterface {
    public static func handler(report: @escaping @Sendable () -> Samples_Status) -> InterfaceHandler {
        InterfaceHandler(interface: "Status", version: "v1", receives: [Samples_Text.self], sends: [Samples_Status.self]) {
            StatusReporter(connection: $0, report: report)
        }
    }

    /// A status of `process` with `counter` and the values of `configuration`.
    public static func status(process: String, counter: Int64, configuration: some ServiceConfiguration) -> Samples_Status {
        var status = Samples_Status()
        status.process = process
        status.counter = counter
        status.configuration = (try? ConfigurationDecoder.values(of: configuration)) ?? [:]
        return status
    }

    struct StatusReporter: ConnectionHandler {
        let connection: DataConnection
        let report: @Sendable () -> Samples_Status

        func received(_ message: any SwiftProtobuf.Message) async {
            try? await connection.send(report())
        }
    }
}
