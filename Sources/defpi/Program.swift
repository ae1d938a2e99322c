import Logging
import ServiceLifecycle

/// How `defpi console` and `defpi serve` run: the Engine's background services, the API and the
/// front in one `ServiceGroup`. SIGTERM, SIGINT and SIGHUP stop it gracefully: the front ends,
/// the API stops serving, running changes finish (or, after 20 s, are given back to the queue),
/// and the Engine stops watching Docker last.
enum Program {
    /// How long running changes may take to finish once the program is told to stop.
    static let patience: Duration = .seconds(20)

    static func run(_ services: [ServiceGroupConfiguration.ServiceConfiguration], logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger)
        configuration.maximumGracefulShutdownDuration = patience
        try await ServiceGroup(configuration: configuration).run()
    }

    /// A service that runs as long as the program; its end (or failure) stops the program.
    static func background(_ service: any ServiceLifecycle.Service) -> ServiceGroupConfiguration.ServiceConfiguration {
        .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
              failureTerminationBehavior: .gracefullyShutdownGroup)
    }

    /// The front: when it ends (the operator quit), the program stops gracefully.
    static func front(_ service: any ServiceLifecycle.Service) -> ServiceGroupConfiguration.ServiceConfiguration {
        .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
              failureTerminationBehavior: .gracefullyShutdownGroup)
    }
}
