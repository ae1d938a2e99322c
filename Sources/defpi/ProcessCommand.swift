import ArgumentParser
import Console
import DefpiAPI
import Engine
import Foundation
import Logging

/// `defpi process ...`: deploying services as processes, and ending them.
struct ProcessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Deploy, list, inspect and terminate processes.",
        discussion: "A process is one service version running for one user, on a node chosen by the operator or by defpi, with its own configuration. Every change is queued and carried out until it has taken effect.",
        subcommands: [Create.self, List.self, Show.self, Config.self, Upgrade.self, Move.self, Logs.self, History.self,
                      Remove.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy a service version as a new process.",
            discussion: "Without --node or --pool defpi places the process on any node the user may use: ready, active, with an image for its architecture, the least loaded first. With --wait (the default) the command returns once the process runs, or says why it does not.")
        @Argument(help: "The service, and optionally its version: meter or meter:1.1.0 (default: the newest usable).")
        var service: String
        @Option(help: "The process's name: lower-case letters, digits and dashes, unique per user (default: SERVICE-N).")
        var name: String?
        @Option(help: "The owner (username or id); an admin may deploy for anyone.")
        var user: String?
        @Option(help: "Run on this node (name, hostname or id): a public node, or a private node of the owner.")
        var node: String?
        @Option(help: "Run on a node of this pool (name or id).")
        var pool: String?
        @Option(name: .short, help: "A configuration entry KEY=VALUE (repeatable).")
        var e: [String] = []
        @Option(help: "Memory limit: bytes, or with k, m, g (256m).")
        var memory: String?
        @Option(help: "CPU limit in CPUs (0.5).")
        var cpus: Double?
        @Option(help: "Mount SOURCE:TARGET[:OPTIONS] (repeatable): a named volume of the owner (data:/var/lib/x), a tmpfs (:/scratch:tmpfs,size=64m), or, for admins, a host path (/srv/x:/x:bind,ro).")
        var mount: [String] = []
        @Option(help: "Publish HOST-PORT:CONTAINER-PORT on the node's own address (repeatable); users publish host ports 30000-32767 only.")
        var port: [String] = []
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func validate() throws {
            guard node == nil || pool == nil else { throw ValidationError("give --node or --pool, not both") }
        }

        func run() async throws {
            try await reportingErrors {
                let (serviceId, version) = ProcessArguments.serviceAndVersion(service)
                let request = ProcessRequest(
                    serviceId: serviceId, version: version, name: name, owner: user,
                    target: node.map { .node($0) } ?? pool.map { .pool($0) } ?? .automatic,
                    configuration: try ProcessArguments.parameters(e), memoryBytes: try ProcessArguments.bytes(memory),
                    nanoCPUs: try ProcessArguments.nanoCPUs(cpus), ports: try port.map(ProcessArguments.port),
                    mounts: try mount.map(ProcessArguments.mount))
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                let (process, queued) = try await engine.processes.create(request, by: caller)
                guard !change.detach else {
                    if format.output == .json { return try format.printJSON(process) }
                    return print("queued: \(queued.description) (process \(process.id), change \(queued.id))")
                }
                try await change.settle(queued, in: engine, quiet: true)
                let running = try await ProcessArguments.untilRunning(process, in: engine, timeout: change.timeout ?? 180)
                if format.output == .json { return try format.printJSON(running) }
                print("process \(running.name) (\(running.id)) is running")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List processes.")
        @Option(help: "Only this user's processes (username or id).")
        var user: String?
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                var processes = try await engine.processes.processes(by: caller)
                if let user {
                    let owner = try await engine.users.user(user, by: caller)
                    processes = processes.filter { $0.userId == owner.id }
                }
                if format.output == .json { return try format.printJSON(processes) }
                let names = try await ProcessNames(engine, as: caller)
                var table = Table("ID", "NAME", "USER", "SERVICE", "VERSION", "STATE", "NODE", "AGE")
                let now = Date()
                for process in processes {
                    table.add(process.id, process.name, names.user(process.userId), process.serviceId, process.serviceVersion,
                              ProcessNames.state(of: process), names.node(process.runningNodeId),
                              process.created.map { RowRenderer.age($0, now: now) } ?? "-")
                }
                table.print()
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one process: its placement, configuration and limits.")
        @OptionGroup var target: ProcessReference
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let process = try await engine.processes.process(target.process, by: caller)
                if format.output == .json { return try format.printJSON(process) }
                let names = try await ProcessNames(engine, as: caller)
                var details = Details()
                details.add("Name", process.name)
                details.add("ID", process.id)
                details.add("User", names.user(process.userId))
                details.add("Service", "\(process.serviceId) \(process.serviceVersion)")
                details.add("State", ProcessNames.state(of: process))
                details.add("Placement", names.target(process.placement))
                details.add("Node", names.node(process.runningNodeId))
                details.add("Swarm service", process.dockerId)
                details.add("Memory limit", process.maxMemoryBytes > 0 ? ProcessArguments.describe(bytes: process.maxMemoryBytes) : "none")
                details.add("CPU limit", process.maxNanoCPUs > 0 ? String(format: "%g CPUs", Double(process.maxNanoCPUs) / 1e9) : "none")
                details.add("Configuration", process.configuration.isEmpty ? "none"
                    : process.configuration.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
                details.add("Created", process.created.map { ISO8601DateFormatter().string(from: $0) })
                details.print()
            }
        }
    }

    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a process's configuration, or print it.",
            discussion: "The new configuration is pending until the running process acknowledges it; a process that refuses it keeps its old one, and the command prints the process's reason. Without -e or --unset the configuration is printed, with what is pending.")
        @OptionGroup var target: ProcessReference
        @Option(name: .short, help: "Set KEY=VALUE (repeatable).")
        var e: [String] = []
        @Option(help: "Remove KEY (repeatable).")
        var unset: [String] = []
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                guard !e.isEmpty || !unset.isEmpty else {
                    let process = try await engine.processes.process(target.process, by: caller)
                    if format.output == .json { return try format.printJSON(process.configuration) }
                    for parameter in process.configuration { print("\(parameter.key)=\(parameter.value)") }
                    if let pending = process.pendingConfiguration {
                        print("pending: " + pending.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                    }
                    return
                }
                let queued = try await engine.processes.configure(
                    target.process, set: try ProcessArguments.parameters(e), unset: unset, by: caller)
                try await change.settle(queued, in: engine)
            }
        }
    }

    struct Upgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a process at another version of its service (a lower one downgrades), keeping its configuration and state.",
            discussion: "The process is suspended and its state saved, its swarm service is replaced by one at the new version, and the new container resumes from the state.")
        @OptionGroup var target: ProcessReference
        @Option(help: "The version to run.")
        var version: String
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                let queued = try await engine.processes.relocate(target.process, version: version, target: nil, by: caller)
                try await ProcessArguments.relocated(target.process, by: queued, in: engine, as: caller, options: change)
            }
        }
    }

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a process to another node or pool, keeping its configuration and state.",
            discussion: "The process is suspended and its state saved, its swarm service moves, and the new container resumes from the state.")
        @OptionGroup var target: ProcessReference
        @Option(help: "The node to run on: a public node, or a private node of the owner.")
        var node: String?
        @Option(help: "The pool to run in.")
        var pool: String?
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func validate() throws {
            guard (node == nil) != (pool == nil) else { throw ValidationError("give exactly one of --node NODE or --pool POOL") }
        }

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                let destination: PlacementRequest = node.map { .node($0) } ?? .pool(pool!)
                let queued = try await engine.processes.relocate(target.process, version: nil, target: destination, by: caller)
                try await ProcessArguments.relocated(target.process, by: queued, in: engine, as: caller, options: change)
            }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a process's recent output, and follow it with --follow.")
        @OptionGroup var target: ProcessReference
        @Option(help: "How many of the last lines to print.")
        var tail = 100
        @Flag(name: [.short, .long], help: "Keep printing what the process writes, until interrupted.")
        var follow = false
        @Flag(help: "Prefix each line with Docker's timestamp.")
        var timestamps = false
        @Flag(help: "Print the output as the process wrote it, terminal control sequences included (by default they are removed: a process must not drive your terminal).")
        var raw = false
        @OptionGroup var engine: EngineOptions

        func validate() throws {
            guard tail >= 0 else { throw ValidationError("--tail takes a number of lines, 0 or more") }
        }

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let (stamped, raw) = (timestamps, raw)
                try await engine.processes.logs(target.process, tail: tail, follow: follow, by: caller) { line in
                    let written = raw ? line.text : TerminalSafeText.of(line.text)
                    let text = stamped ? "\(line.timestamp) \(written)" : written
                    if line.stream == .stderr {
                        FileHandle.standardError.write(Data((text + "\n").utf8))
                    } else {
                        print(text)
                        fflush(nil)
                    }
                }
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a process's audit trail: who created, configured and moved it, and how its changes went.",
            discussion: "A terminated process's trail stays; an admin reads it by the process's id.")
        @OptionGroup var target: ProcessReference
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let events = try await engine.processes.history(target.process, by: caller)
                if format.output == .json { return try format.printJSON(events) }
                Table.audit(events).print()
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm",
            abstract: "Terminate a process: it is told to end, its swarm service is removed, then its record.")
        @OptionGroup var target: ProcessReference
        @Flag(help: "Remove it even if it refuses to end or does not answer (its swarm service, record and connections go all the same; the audit trail says forced).")
        var force = false
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                try await change.settle(try await engine.processes.terminate(target.process, force: force, by: caller), in: engine)
            }
        }
    }
}

/// The process a verb acts on.
struct ProcessReference: ParsableArguments {
    @Argument(help: "The process: its name or id (or a unique id prefix).")
    var process: String
}
