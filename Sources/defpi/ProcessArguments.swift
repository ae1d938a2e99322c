import ArgumentParser
import DefpiAPI
import Engine
import Foundation
import Logging

/// Reading what `defpi process` verbs are given: `SERVICE[:VERSION]`, `KEY=VALUE`, sizes, CPUs.
enum ProcessArguments {
    static func serviceAndVersion(_ text: String) -> (String, String?) {
        guard let colon = text.firstIndex(of: ":") else { return (text, nil) }
        let version = String(text[text.index(after: colon)...])
        return (String(text[..<colon]), version.isEmpty ? nil : version)
    }

    static func parameters(_ entries: [String]) throws -> [ProcessParameter] {
        try entries.map { entry in
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw ValidationError("-e \(entry): give KEY=VALUE")
            }
            return ProcessParameter(key: String(entry[..<equals]), value: String(entry[entry.index(after: equals)...]))
        }
    }

    /// `256m`, `1g`, `512k` or a number of bytes; nil: no limit.
    static func bytes(_ text: String?) throws -> Int64 {
        guard let text = text?.lowercased().trimmingCharacters(in: .whitespaces), !text.isEmpty else { return 0 }
        let units: [Character: Int64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        let unit = text.last.flatMap { units[$0] }
        guard let number = Double(unit == nil ? text : String(text.dropLast())), number > 0,
              number * Double(unit ?? 1) < Double(Int64.max) else {
            throw ValidationError("--memory \(text): give a size such as 256m, 1g or a number of bytes")
        }
        return Int64(number * Double(unit ?? 1))
    }

    /// `HOST:CONTAINER`.
    static func port(_ text: String) throws -> ExposePort {
        let parts = text.split(separator: ":").compactMap { Int($0) }
        guard parts.count == 2 else { throw ValidationError("--port \(text): give HOST-PORT:CONTAINER-PORT, such as 8080:80") }
        return ExposePort(internal: parts[1], external: parts[0])
    }

    /// `SOURCE:TARGET[:OPTIONS]`, OPTIONS a comma-separated list of a type (`bind`, `volume`,
    /// `tmpfs`), `ro`, and `size=SIZE` for tmpfs: `data:/var/lib/x`, `:/scratch:tmpfs,size=64m`,
    /// `/dev/ttyUSB0:/dev/ttyUSB0:bind,ro`. Without a type, a source starting with / is a bind mount.
    static func mount(_ text: String) throws -> MountPoint {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), !parts[1].isEmpty else {
            throw ValidationError("--mount \(text): give SOURCE:TARGET[:OPTIONS], e.g. data:/var/lib/x or :/scratch:tmpfs,size=64m")
        }
        var mount = MountPoint(source: parts[0], target: parts[1])
        for option in parts.count == 3 ? parts[2].split(separator: ",").map(String.init) : [] {
            if let type = MountType(rawValue: option) {
                mount.type = type
            } else if option == "ro" {
                mount.readOnly = true
            } else if option.hasPrefix("size=") {
                mount.sizeBytes = try bytes(String(option.dropFirst(5)))
            } else {
                throw ValidationError("--mount \(text): \(option) is not an option; use bind, volume or tmpfs, ro, size=SIZE")
            }
        }
        return mount
    }

    static func nanoCPUs(_ cpus: Double?) throws -> Int64 {
        guard let cpus else { return 0 }
        guard cpus > 0, cpus <= 1024 else { throw ValidationError("--cpus \(cpus): give a number of CPUs such as 0.5") }
        return Int64(cpus * 1e9)
    }

    /// `64 MiB`, `1.5 GiB`: binary units, as `--memory` takes them.
    static func describe(bytes: Int64) -> String {
        for (unit, size) in [("GiB", Int64(1) << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= size {
            return String(format: "%g \(unit)", Double(bytes) / Double(size))
        }
        return "\(bytes) bytes"
    }

    /// Waits for a relocation `change` and then for the process to run again (unless --detach).
    static func relocated(_ reference: String, by change: PendingChange, in engine: Engine, as caller: Caller,
                          options: ChangeOptions) async throws {
        guard !options.detach else { return print("queued: \(change.description) (change \(change.id))") }
        try await options.settle(change, in: engine, quiet: true)
        let process = try await engine.processes.process(reference, by: caller)
        let running = try await untilRunning(process, in: engine, timeout: options.timeout ?? 180)
        print("done: \(change.description); \(running.name) runs \(running.serviceId) \(running.serviceVersion)")
    }

    /// Waits for `process` to run, serving the Engine's API socket meanwhile unless a console or
    /// server does (the process calls back through it); an error says what it is doing instead.
    static func untilRunning(_ process: ServiceProcess, in engine: Engine, timeout: Int) async throws -> ServiceProcess {
        let logger = Logger(label: "defpi.process")
        let api = Task { await EngineAPI(engine: engine).serveWhenFree(unixSocket: engine.settings.gateway.engineSocket, logger: logger) }
        defer { api.cancel() }
        let current = try await engine.processes.waitUntilRunning(process.id, timeout: .seconds(timeout))
        guard current.state == .running else {
            throw ChangeOutcomeError(message: "process \(current.name) is deployed but not running yet: it is \(ProcessNames.state(of: current)) after \(timeout) s; `defpi process show \(current.name)` follows it")
        }
        return current
    }
}

/// Names for ids in process listings: users, nodes, pools.
struct ProcessNames {
    let users: [String: String]
    let nodes: [String: String]
    let pools: [String: String]

    /// The names `caller` may see.
    init(_ engine: Engine, as caller: Caller) async throws {
        users = Dictionary(try await engine.users.users(by: caller).map { ($0.id, $0.username) }) { first, _ in first }
        nodes = Dictionary(try await engine.nodes.nodes(by: caller).map { ($0.id, $0.name) }) { first, _ in first }
        pools = Dictionary(try await engine.pools.pools(by: caller).map { ($0.id, $0.name) }) { first, _ in first }
    }

    func user(_ id: String) -> String { users[id] ?? id }
    func node(_ id: String?) -> String { id.map { nodes[$0] ?? $0 } ?? "-" }

    func target(_ placement: PlacementTarget) -> String {
        switch placement {
        case .pool(let id): return "pool \(pools[id] ?? id)"
        case .privateNode(let id): return "private node \(node(id))"
        case .publicNode(let id): return "public node \(node(id))"
        case .automatic: return "any node of the user"
        }
    }

    /// The state, with Docker's problem when there is one.
    static func state(of process: ServiceProcess) -> String {
        process.state.rawValue + (process.problem.map { " (\($0))" } ?? "")
    }
}
