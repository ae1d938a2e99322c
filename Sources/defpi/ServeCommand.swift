import ArgumentParser
import DefpiAPI
import Engine
import Foundation
import Logging

/// `defpi serve`: the Engine headless, for 24/7 operation beside or instead of consoles.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Engine headless: Docker events, re-sync, the queue's workers, the REST API and the API socket.",
        discussion: "Logs go to standard error. SIGTERM, SIGINT or SIGHUP stop it gracefully: running changes finish, or are given back to the queue after 20 s. Several consoles and servers may run against one store.")

    @OptionGroup var engine: EngineOptions

    @Option(help: ArgumentHelp("Where the REST API listens: HOST:PORT, [IPv6]:PORT, or :PORT for every address; port 0 takes a free one.",
                               valueName: "address"))
    var listen = "127.0.0.1:8080"

    @Option(help: ArgumentHelp("The TLS certificate chain (PEM) of the REST API; with --tls-key.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The TLS private key (PEM) of the REST API; with --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @Option(name: .customLong("cors-origin"),
            help: ArgumentHelp("An origin (https://dash.example.org) whose web pages may call the REST API; repeat for more. None by default: requests that a page of another site sends are refused.",
                               valueName: "origin"))
    var corsOrigins: [String] = []

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
            let listener = try restListener()
            let engine = try await engine.makeEngine()
            let socket = engine.settings.gateway.engineSocket
            let scheme = listener.tls == nil ? "http" : "https"
            if listener.tls == nil && !listener.isLoopback {
                let warning = "WARNING: the REST API listens on \(listener.host):\(listener.port) without TLS: passwords and tokens "
                    + "cross the network in the clear. Give --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy."
                logger.warning("\(warning)")
                FileHandle.standardError.write(Data("\n\(warning)\n\n".utf8))
            }
            let api = try RESTAPI(engine: engine, allowedOrigins: Set(corsOrigins)).service(listening: listener, logger: logger) { port in
                logger.notice("REST API on \(scheme)://\(listener.host.contains(":") ? "[\(listener.host)]" : listener.host):\(port)")
            }
            logger.notice("serving: store \(engine.storeLocation), Docker \(engine.settings.docker.description), API socket \(socket), \(engine.settings.queue.workers) queue workers")
            var services = engine.backgroundServices().map { Program.background($0) }
            services.append(Program.background(EngineAPI(engine: engine).service(unixSocket: socket)))
            services.append(Program.background(api))
            try await Program.run(services, logger: logger)
            logger.notice("stopped")
        }
    }

    func validate() throws {
        for origin in corsOrigins {
            guard let url = URL(string: origin), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
                  url.path.isEmpty, origin != "*" else {
                throw ValidationError("--cors-origin \(origin): give an origin as SCHEME://HOST[:PORT], e.g. https://dash.example.org (never *)")
            }
        }
        if engine.actingAs != nil { throw ValidationError("--as applies to verbs and the console; defpi serve acts for whoever signs in") }
    }

    private func restListener() throws -> RESTListener {
        switch (tlsCert, tlsKey) {
        case (nil, nil): return try RESTListener(parsing: listen)
        case let (certificate?, key?): return try RESTListener(parsing: listen, tls: (certificate, key))
        default: throw ValidationError("give --tls-cert and --tls-key together")
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
