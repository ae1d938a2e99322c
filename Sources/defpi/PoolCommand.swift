import ArgumentParser
import Engine

/// `defpi pool ...`: node pools, the groups of public nodes users place processes on.
struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Manage node pools.",
        subcommands: [List.self, Create.self, Rename.self, Remove.self, AllowPath.self, DenyPath.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the pools.")
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                let pools = try await engine.pools.pools(by: caller)
                if format.output == .json { return try format.printJSON(pools) }
                let nodes = try await engine.nodes.nodes(by: caller)
                var table = Table("NAME", "ID", "NODES", "READY", "HOST PATHS")
                for pool in pools {
                    let members = nodes.filter { $0.nodePoolId == pool.id }
                    table.add(pool.name, pool.id, "\(members.count)", "\(members.filter { $0.status == .ready }.count)",
                              HostPathGrant.list(pool.hostPaths) ?? "-")
                }
                table.print()
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a pool.")
        @Argument(help: "The pool's name (unique).")
        var name: String
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let pool = try await engine.acting { engine, caller in try await engine.pools.create(named: name, by: caller) }
                if format.output == .json { return try format.printJSON(pool) }
                print("created pool \(pool.name) (\(pool.id))")
            }
        }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename a pool.")
        @Argument(help: "The pool: its name or id.")
        var pool: String
        @Argument(help: "The new name (unique).")
        var newName: String
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let renamed = try await engine.acting { engine, caller in try await engine.pools.rename(pool, to: newName, by: caller) }
                print("renamed pool \(renamed.id) to \(renamed.name)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete a pool.",
            discussion: "A pool that still has nodes is refused, unless --move-to names the pool they go to.")
        @Argument(help: "The pool: its name or id.")
        var pool: String
        @Option(help: "Move the pool's nodes into this pool first.")
        var moveTo: String?
        @OptionGroup var change: ChangeOptions
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await reportingErrors {
                let engine = try await engine.makeEngine()
                let caller = try await self.engine.caller(on: engine)
                for move in try await engine.pools.delete(pool, moveTo: moveTo, by: caller) {
                    try await change.settle(move, in: engine)
                }
                print("deleted pool \(pool)")
            }
        }
    }
}
