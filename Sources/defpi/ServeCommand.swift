import ArgumentParser
import DefpiAPI
import Engine
import Foundation
import Logging

/// `defpi serve`: the Engine headless, for 24/7 operation beside or instead of consoles.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Engine headless: Docker events, re-sync, the queue's workers and the API socket.",
        discussion: "Logs go to standard error. SIGTERM, SIGINT or SIGHUP stop it gracefully: running changes finish, or are given back to the queue after 20 s. Several consoles and servers may run against one store.")

    @OptionGroup var engine: EngineOptions

    @Option(help: "The least severe log level shown: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        try await reportingErrors {
            let level = logLevel
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "defpi.serve")
            let engine = try await engine.makeEngine()
            let socket = engine.settings.gateway.engineSocket
            logger.notice("serving: store \(engine.storeLocation), Docker \(engine.settings.docker.description), API socket \(socket), \(engine.settings.queue.workers) queue workers")
            var services = engine.backgroundServices().map { Program.background($0) }
            services.append(Program.background(EngineAPI(engine: engine).service(unixSocket: socket)))
            try await Program.run(services, logger: logger)
            logger.notice("stopped")
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
