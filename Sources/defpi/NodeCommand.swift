import ArgumentParser
import Engine
import Foundation

/// `defpi node ...`: the swarm's nodes as defpi classifies them.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "List, inspect and classify the swarm's nodes.",
        subcommands: [List.self, Show.self, Classify.self, Declassify.self, Rename.self, AllowPath.self, DenyPath.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the nodes.")
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                let nodes = try await engine.nodes.nodes(by: caller)
                if format.output == .json { return try format.printJSON(nodes) }
                let names = try await PlacementNames(engine, as: caller)
                var table = Table("ID", "NAME", "KIND", "POOL/OWNER", "STATUS", "AVAILABILITY", "ROLE", "ARCH", "HOSTNAME")
                for node in nodes {
                    table.add(String(node.dockerId.prefix(12)), node.name, node.kind.rawValue.lowercased(),
                              names.placement(of: node), node.status.rawValue.lowercased(),
                              node.availability.rawValue.lowercased(), node.role.rawValue.lowercased(),
                              node.architecture.rawValue.lowercased(), node.hostname)
                }
                table.print()
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one node, with its Docker labels.")
        @OptionGroup var target: NodeReference
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                let node = try await engine.nodes.node(target.node, by: caller)
                if format.output == .json { return try format.printJSON(node) }
                let names = try await PlacementNames(engine, as: caller)
                var details = Details()
                details.add("Name", node.name)
                details.add("ID", node.id)
                details.add("Swarm ID", node.dockerId)
                details.add("Hostname", node.hostname)
                details.add("Kind", node.kind.rawValue.lowercased())
                details.add(node.kind == .private ? "Owner" : "Pool", names.placement(of: node))
                details.add("Status", node.status.rawValue.lowercased())
                details.add("Availability", node.availability.rawValue.lowercased())
                details.add("Role", node.role.rawValue.lowercased())
                details.add("Architecture", node.architecture.rawValue.lowercased())
                details.add("Last sync", node.lastSync.map { ISO8601DateFormatter().string(from: $0) })
                details.add("Host paths", HostPathGrant.list(node.hostPaths) ?? "-")
                if let labels = try? await engine.nodes.dockerLabels(of: node) {
                    details.add("Labels", labels.isEmpty ? "-" : labels.sorted { $0.key < $1.key }
                        .map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
                }
                details.print()
            }
        }
    }

    struct Classify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a node public (in a pool) or private (to a user).",
            discussion: "The classification is stored at once and written to the node's Docker labels (org.defpi.*) through the pending-change queue; the command waits for that unless --detach is given.")
        @OptionGroup var target: NodeReference
        @Option(help: "Make the node public, in this pool (name or id).")
        var pool: String?
        @Option(help: "Make the node private, owned by this user (username or id).")
        var owner: String?
        @Option(help: "Rename the node at the same time.")
        var name: String?
        @OptionGroup var evacuation: Evacuation
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func validate() throws {
            guard (pool == nil) != (owner == nil) else {
                throw ValidationError("give exactly one of --pool POOL (public) or --owner USER (private)")
            }
        }

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                try await evacuation.moveProcesses(off: target.node, in: engine, by: caller, change: change)
                let queued = if let pool {
                    try await engine.nodes.classifyPublic(target.node, pool: pool, name: name, by: caller)
                } else {
                    try await engine.nodes.classifyPrivate(target.node, owner: owner!, name: name, by: caller)
                }
                try await change.settle(queued, in: engine)
            }
        }
    }

    struct Declassify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a node unidentified again; nothing new is placed on it.")
        @OptionGroup var target: NodeReference
        @OptionGroup var evacuation: Evacuation
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                try await evacuation.moveProcesses(off: target.node, in: engine, by: caller, change: change)
                try await change.settle(try await engine.nodes.declassify(target.node, by: caller), in: engine)
            }
        }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a node a new name.")
        @OptionGroup var target: NodeReference
        @Argument(help: "The new name (unique among nodes).")
        var newName: String
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeSyncedEngine()
                let caller = try await self.engine.caller(on: engine)
                try await change.settle(try await engine.nodes.rename(target.node, to: newName, by: caller), in: engine)
            }
        }
    }
}

/// The node a verb acts on.
/// `--move-to`: the owner's processes leave a private node before it is declassified or given away.
struct Evacuation: ParsableArguments {
    @Option(help: "Move the owner's processes on this private node to this pool or node first (a pool of that name wins); without it, a node with its owner's processes is refused.")
    var moveTo: String?

    func moveProcesses(off node: String, in engine: Engine, by caller: Caller, change: ChangeOptions) async throws {
        guard let moveTo else { return }
        for move in try await engine.processes.evacuate(node: node, to: moveTo, by: caller) {
            try await change.settle(move, in: engine)
        }
    }
}

struct NodeReference: ParsableArguments {
    @Argument(help: "The node: its name, hostname, swarm id (or a unique prefix) or defpi id.")
    var node: String
}

extension EngineOptions {
    /// An Engine whose node list has just been refreshed from Docker; when Docker cannot be
    /// reached, says so and goes on with the stored state.
    func makeSyncedEngine() async throws -> Engine {
        let engine = try await makeEngine()
        do {
            try await engine.nodes.sync()
        } catch let error as UserFacingError {
            warn("showing the stored state: \(error.userMessage)")
        } catch {
            warn("showing the stored state: \(error)")
        }
        return engine
    }
}

/// Pool and user names for showing where a node's processes go.
struct PlacementNames {
    let pools: [String: String]
    let users: [String: String]

    /// The names `caller` may see.
    init(_ engine: Engine, as caller: Caller) async throws {
        pools = Dictionary(uniqueKeysWithValues: try await engine.pools.pools(by: caller).map { ($0.id, $0.name) })
        users = Dictionary(uniqueKeysWithValues: try await engine.users.users(by: caller).map { ($0.id, $0.username) })
    }

    func placement(of node: Node) -> String {
        if let pool = node.nodePoolId { return pools[pool] ?? pool }
        if let owner = node.userId { return users[owner] ?? owner }
        return "-"
    }
}
