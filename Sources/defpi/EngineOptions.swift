import ArgumentParser
import Engine
import Foundation

/// Where the Engine of a verb finds the store and the registry. Docker comes from `DOCKER_HOST`
/// (and the TLS variables) or the config file's `dockerHost`.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Where the store lives: a file path, sqlite:///path, or mongodb://host:port/database.",
        discussion: "Default: $DEFPI_STORE, then 'store:' in the config file, then $XDG_DATA_HOME/defpi/defpi.sqlite."))
    var store: String?

    @Option(name: .long, help: ArgumentHelp(
        "The registry holding service images, e.g. http://127.0.0.1:5000.",
        discussion: "Default: $DEFPI_REGISTRY, then 'registry.url' in the config file, then \(RegistrySettings.defaultURL)."))
    var registry: String?

    @Option(name: .long, help: "Registry user name (default: $DEFPI_REGISTRY_USERNAME, then the config file).")
    var registryUsername: String?

    @Flag(name: .long, help: "Read the registry password from standard input (one line); else $DEFPI_REGISTRY_PASSWORD, then the config file. It is never a flag's value, which other users could read in the process list.")
    var registryPasswordStdin = false

    @Option(name: .long, help: "Repository prefix of service images (default: $DEFPI_REGISTRY_PREFIX, then the config file, then 'services').")
    var registryPrefix: String?

    @Option(name: .customLong("as"), help: ArgumentHelp(
        "Act as this user (username or id): see and change only what they may. Default: the local operator, an admin.",
        valueName: "user"))
    var actingAs: String?

    /// Who the verb acts as: the local operator (someone with the store and the Docker socket,
    /// an admin, as Docker treats the `docker` group), or with `--as`, exactly the user named.
    func caller(on engine: Engine) async throws -> Caller {
        guard let actingAs else { return .localOperator() }
        return try await engine.users.viewing(as: actingAs, by: .localOperator())
    }

    /// Runs `body` with a new Engine and the caller the verb acts as.
    func acting<Result>(_ body: (Engine, Caller) async throws -> Result) async throws -> Result {
        let engine = try await makeEngine()
        return try await body(engine, try await caller(on: engine))
    }

    func registrySettings() throws -> RegistrySettings {
        let password = registryPasswordStdin ? Swift.readLine(strippingNewline: true) : nil
        return try RegistrySettings.resolve(url: registry, username: registryUsername, password: password,
                                     prefix: registryPrefix)
    }

    func makeEngine() async throws -> Engine {
        let queue = try ConfigurationFile.load(path: ConfigurationFile.path()).queue ?? ConfigurationFile.Queue()
        return try await Engine(settings: EngineSettings(
            store: try StoreSelection.resolve(flag: store), docker: try DockerSelection.resolve(),
            registry: try registrySettings(), queue: queue.settings))
    }
}

/// `-o table` (default, for people) or `-o json` (stable field names, for scripts).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

struct OutputOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Output format: table or json.")
    var output: OutputFormat = .table

    /// Prints `value` as pretty JSON with sorted keys (dates as epoch milliseconds, as stored),
    /// secret fields left out as the REST API leaves them out.
    func printJSON<Value: Encodable>(_ value: Value) throws {
        let encoder = ModelCoding.encoder(sortedKeys: true)
        encoder.outputFormatting.insert(.prettyPrinted)
        print(String(decoding: try SecretFields.$redacted.withValue(true) { try encoder.encode(value) }, as: UTF8.self))
    }
}

/// Writes a warning line on stderr, leaving stdout to the answer.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("defpi: warning: \(message)\n".utf8))
}
