import ArgumentParser
import Console
import Engine
import Foundation

/// `defpi connection ...`: wiring processes' interfaces together.
struct ConnectionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connection",
        abstract: "Connect processes' interfaces, list, inspect and remove connections.",
        discussion: "Only defpi makes connections: it refuses interfaces that are not compatible and interfaces that allow one connection and have it, chooses the versions and the port, and tells each side once its process runs. INTERFACE is the interface's name or the last part of its id, in any case: m1.readings, a1.readings-in.",
        subcommands: [Create.self, List.self, Show.self, Remove.self, Candidates.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect an interface of one process to a compatible interface of another.",
            discussion: "With --wait (the default) the command returns once both sides have been told, with the state they report; a side whose process does not run yet is told when it runs.")
        @Argument(help: "One side: PROCESS.INTERFACE.")
        var first: String
        @Argument(help: "The other side: PROCESS.INTERFACE.")
        var second: String
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let (a, b) = (try InterfaceReference(parsing: first), try InterfaceReference(parsing: second))
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let (connection, changes) = try await engine.connections.create(a, b, by: caller)
                guard !change.detach else {
                    if format.output == .json { return try format.printJSON(connection) }
                    return print("queued: connection \(connection.id) \(a) ↔ \(b) (changes \(changes.map(\.id).joined(separator: ", ")))")
                }
                let made = try await ConnectionWaiting.told(connection, changes: changes, in: engine, as: caller, timeout: change.timeout ?? 30)
                if format.output == .json { return try format.printJSON(made) }
                let labels = try await engine.connections.endpointLabels(by: caller)
                print("connection \(made.id) \(ConnectionWaiting.describe(made, labels)): \(ConnectionWaiting.state(of: made))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List connections.")
        @Option(help: "Only this process's connections (name or id).")
        var process: String?
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let connections = try await engine.connections.connections(by: caller, process: process)
                if format.output == .json { return try format.printJSON(connections) }
                let labels = try await engine.connections.endpointLabels(by: caller)
                var table = Table("ID", "FROM", "TO", "VERSIONS", "PORT", "STATE", "AGE")
                let now = Date()
                for connection in connections {
                    table.add(connection.id, labels.label(connection.endpoint1), labels.label(connection.endpoint2),
                              "\(connection.endpoint1.interfaceVersionName ?? "-")/\(connection.endpoint2.interfaceVersionName ?? "-")",
                              "\(connection.port)", ConnectionWaiting.state(of: connection),
                              connection.created.map { RowRenderer.age($0, now: now) } ?? "-")
                }
                table.print()
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one connection: its ends, versions, port and what each side reports.")
        @Argument(help: "The connection's id (or a unique prefix of it).")
        var connection: String
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let connection = try await engine.connections.connection(self.connection, by: caller)
                if format.output == .json { return try format.printJSON(connection) }
                let labels = try await engine.connections.endpointLabels(by: caller)
                var details = Details()
                details.add("ID", connection.id)
                details.add("State", ConnectionWaiting.state(of: connection))
                for (name, endpoint) in [("From", connection.endpoint1), ("To", connection.endpoint2)] {
                    let role = connection.listens(endpoint.processId) ? "listens" : "connects"
                    details.add(name, "\(labels.label(endpoint)) \(endpoint.interfaceVersionName ?? "") (\(role)): "
                                + (endpoint.state?.rawValue ?? "not told yet"))
                }
                details.add("Port", "\(connection.port)")
                details.add("Problem", connection.problem)
                details.add("Created", connection.created.map { "\($0)" })
                details.print()
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a connection: both sides are told to end it, then its record goes.")
        @Argument(help: "The connection's id (or a unique prefix of it).")
        var connection: String
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let changes = try await engine.connections.remove(connection, by: caller)
                for change in changes { try await self.change.settle(change, in: engine, quiet: true) }
                if !self.change.detach { print("connection \(connection) removed") }
            }
        }
    }

    struct Candidates: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List what an interface can be connected to: every interface of the owner's other processes, and why it fits or not.")
        @Argument(help: "The interface: PROCESS.INTERFACE.")
        var interface: String
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let candidates = try await engine.connections.candidates(for: try InterfaceReference(parsing: interface),
                                                                        by: caller)
                if format.output == .json { return try format.printJSON(candidates) }
                var table = Table("INTERFACE", "FIT", "WHY")
                for candidate in candidates { table.add(candidate.label, candidate.fit.rawValue, candidate.reason ?? "") }
                table.print()
            }
        }
    }
}

/// Waiting for a new connection's sides to be told, and saying how it stands.
enum ConnectionWaiting {
    /// Works the queue for `changes` until each side has been told (or will be, when its process
    /// runs); returns the connection as it stands then.
    static func told(_ connection: Connection, changes: [PendingChange], in engine: Engine, as caller: Caller, timeout: Int) async throws
        -> Connection
    {
        for change in changes {
            let settled = try await engine.queue.settle(change.id, timeout: .seconds(timeout))
            switch settled.state {
            case .finished, .cancelled: continue  // cancelled: its process does not run yet; told when it does.
            case .failedPermanently:
                throw ChangeOutcomeError(message: "\(change.description) failed: \(settled.lastError ?? "no reason recorded")")
            default:
                throw ChangeOutcomeError(message:
                    "\(change.description) has not taken effect yet (\(settled.lastError ?? "still running")); it stays queued as change \(change.id)")
            }
        }
        return try await engine.connections.connection(connection.id, by: caller)
    }

    static func describe(_ connection: Connection, _ labels: EndpointLabels) -> String {
        "\(labels.label(connection.endpoint1)) ↔ \(labels.label(connection.endpoint2))"
    }

    /// The state, with what keeps it from working when there is something.
    static func state(of connection: Connection) -> String {
        connection.state.rawValue + (connection.problem.map { " (\($0))" } ?? "")
    }
}
