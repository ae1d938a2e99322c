import ArgumentParser
import Engine
import Foundation

extension UserCommand {
    /// `defpi user quota`: what a user's processes may take together, and the limits a process
    /// gets when created without; shown to the user, set by admins.
    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or set a user's quota: processes, memory and CPUs their processes may take together.",
            discussion: "Without settings it shows the quota and what the user's processes take. Admins set it per user, or with --everyone for every user without their own; a setting of 0 for --processes, --memory or --cpus removes that limit. --default-memory and --default-cpus are the limits a process of the user gets when created without (built in: 256m and 1 CPU; a user's process is never unlimited by default). --ports is the range of host ports the user may publish (built in: 30000-32767; never below 1024).")
        @Argument(help: "The user: username or id.")
        var user: String?
        @Flag(help: "The settings for every user without their own.")
        var everyone = false
        @Option(help: "Processes at most (0: no limit).")
        var processes: Int?
        @Option(help: "Memory of all processes together: bytes, or with k, m, g (0: no limit).")
        var memory: String?
        @Option(help: "CPUs of all processes together (0: no limit).")
        var cpus: Double?
        @Option(help: "The memory limit of a process created without one.")
        var defaultMemory: String?
        @Option(help: "The CPU limit of a process created without one.")
        var defaultCpus: Double?
        @Option(help: "The host ports the user's processes may publish, FROM-TO within 1024-65535 (default: everyone's, built in 30000-32767); \"default\" removes the setting.")
        var ports: String?
        @Flag(help: "Remove every setting (the user then has everyone's).")
        var clear = false
        @OptionGroup var engine: EngineOptions
        @OptionGroup var format: OutputOptions

        func validate() throws {
            guard (user == nil) == everyone else { throw ValidationError("name a user, or give --everyone") }
            if everyone, processes == nil && memory == nil && cpus == nil && defaultMemory == nil && defaultCpus == nil && ports == nil && !clear {
                throw ValidationError("--everyone sets the quota of every user without their own; give a setting")
            }
        }

        func run() async throws {
            try await reportingErrors {
                let change = try self.change()
                let reference = everyone ? UserQuota.everyone : user ?? ""
                let report = try await engine.acting { engine, caller in
                    if let change { try await engine.quotas.set(for: reference, change, by: caller) }
                    return everyone ? nil : try await engine.quotas.report(for: reference, by: caller)
                }
                guard let report else { return print("quota of everyone set") }
                if format.output == .json { return try format.printJSON(report) }
                var details = Details()
                for (key, value) in Self.lines(report) { details.add(key, value) }
                details.print()
            }
        }

        /// The change the options ask for; nil when they ask for none (show only).
        private func change() throws -> QuotaChange? {
            guard processes != nil || memory != nil || cpus != nil || defaultMemory != nil || defaultCpus != nil || ports != nil || clear else {
                return nil
            }
            func limit<T: BinaryInteger>(_ value: T?) -> T?? { value.map { $0 == 0 ? nil : $0 } }
            let memoryBytes = try memory.map { $0 == "0" ? 0 : try ProcessArguments.bytes($0) }
            let cpuNanos = try cpus.map { $0 == 0 ? 0 : try ProcessArguments.nanoCPUs($0) }
            return QuotaChange(maxProcesses: limit(processes), maxMemoryBytes: limit(memoryBytes), maxNanoCPUs: limit(cpuNanos),
                               defaultMemoryBytes: try defaultMemory.map { .some(try ProcessArguments.bytes($0)) },
                               defaultNanoCPUs: try defaultCpus.map { .some(try ProcessArguments.nanoCPUs($0)) },
                               ports: try ports.map(Self.portRange), clear: clear)
        }

        /// `--ports FROM-TO`, or `default` to remove the setting.
        private static func portRange(_ text: String) throws -> PortRange? {
            if text == "default" { return nil }
            guard let range = PortRange(text) else {
                throw ValidationError("--ports takes FROM-TO (31000-31099) or default, not \(text)")
            }
            return range
        }

        /// The report as `user show` and `user quota` print it.
        static func lines(_ report: QuotaReport) -> [(String, String)] {
            func of(_ use: String, _ limit: String?) -> String { limit.map { "\(use) of \($0)" } ?? "\(use) (no limit)" }
            return [
                ("Processes", of("\(report.usage.processes)", report.maxProcesses.map(String.init))),
                ("Memory", of(LimitText.bytes(report.usage.memoryBytes), report.maxMemoryBytes.map(LimitText.bytes))),
                ("CPUs", of(LimitText.cpus(report.usage.nanoCPUs), report.maxNanoCPUs.map(LimitText.cpus))),
                ("Defaults", "\(LimitText.bytes(report.defaultMemoryBytes)), \(LimitText.cpus(report.defaultNanoCPUs)) CPU per process created without limits"),
                ("Host ports", report.ports.description),
            ]
        }
    }
}
