import ArgumentParser
import Engine

/// The `defpi` command: the console, the server and scriptable verbs on one Engine.
@main
struct Defpi: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defpi",
        abstract: "Orchestrate dEF-Pi services on a Docker Swarm cluster.",
        version: DefpiVersion.current,
        subcommands: [ConsoleCommand.self, ServeCommand.self, NodeCommand.self, PoolCommand.self, ServiceCommand.self, ProcessCommand.self, ConnectionCommand.self, UserCommand.self,
                      ChangeCommand.self, StoreCommand.self])
}
