import ArgumentParser
import Engine
import Foundation

/// The path and access of `allow-path`, the same for nodes and pools.
struct HostPathGrantArguments: ParsableArguments {
    @Argument(help: "The host path or device, exactly as tenants will mount it (/dev/ttyUSB0).")
    var path: String
    @Flag(name: .customLong("rw"), help: "Tenants may mount it read-write (else read-only only).")
    var writable = false
}

/// Prints a place's grants after an admin changed them.
enum HostPathEdit {
    static func run(_ place: HostPathPlace, _ change: HostPathChange, label: String, engine: EngineOptions) async throws {
        try await reportingErrors {
            let grants = try await engine.acting { engine, caller in try await engine.hostPaths.edit(place, change, by: caller) }
            print("\(label) allows \(HostPathGrant.list(grants) ?? "no host paths")")
        }
    }
}

extension NodeCommand {
    struct AllowPath: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allow-path", abstract: "Let the owner of a private node mount a host path or device there.",
            discussion: "Tenants mount only named volumes, sized tmpfs and the host paths an admin allowed where their process is placed: exactly those paths, read-only unless --rw. A node's paths count while it is private.")
        @OptionGroup var target: NodeReference
        @OptionGroup var grant: HostPathGrantArguments
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await HostPathEdit.run(.node(target.node), .allow(HostPathGrant(path: grant.path, writable: grant.writable)),
                                       label: "node \(target.node)", engine: engine)
        }
    }

    struct DenyPath: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deny-path", abstract: "Take back a host path allowed on a node.",
            discussion: "Processes that mount it keep it until they are deployed again (moved, upgraded).")
        @OptionGroup var target: NodeReference
        @Argument(help: "The host path.")
        var path: String
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await HostPathEdit.run(.node(target.node), .deny(path), label: "node \(target.node)", engine: engine)
        }
    }
}

extension PoolCommand {
    struct AllowPath: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allow-path", abstract: "Let tenants mount a host path or device on every node of a pool.",
            discussion: "Tenants mount only named volumes, sized tmpfs and the host paths an admin allowed where their process is placed: exactly those paths, read-only unless --rw.")
        @Argument(help: "The pool: its name or id.")
        var pool: String
        @OptionGroup var grant: HostPathGrantArguments
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await HostPathEdit.run(.pool(pool), .allow(HostPathGrant(path: grant.path, writable: grant.writable)),
                                       label: "pool \(pool)", engine: engine)
        }
    }

    struct DenyPath: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deny-path", abstract: "Take back a host path allowed on a pool.",
            discussion: "Processes that mount it keep it until they are deployed again (moved, upgraded).")
        @Argument(help: "The pool: its name or id.")
        var pool: String
        @Argument(help: "The host path.")
        var path: String
        @OptionGroup var engine: EngineOptions

        func run() async throws {
            try await HostPathEdit.run(.pool(pool), .deny(path), label: "pool \(pool)", engine: engine)
        }
    }
}
