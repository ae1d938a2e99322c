import Benchmark
import BenchmarkSupport
import Foundation
import Subprocess

/// A `defpi console` in a detached tmux session, held at a shell prompt until `go()` so its start
/// can be timed, and read as the operator sees it (`capture-pane`).
final class ConsoleUnderTest: @unchecked Sendable {
    let session = "defpi-bench-\(UUID().uuidString.prefix(8))"

    init(binary: String, environment: [String: String], width: Int = 200, height: Int = 50) async throws {
        let exports = environment.map { "\($0.key)='\($0.value)'" }.sorted().joined(separator: " ")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("\(session).log").path
        try await Self.tmux("new-session", "-d", "-s", session, "-x", "\(width)", "-y", "\(height)",
                            "env TERM=xterm-256color \(exports) sh -c 'read go; exec \(binary) console --log \(log)'")
    }

    /// Lets the console start.
    func go() async throws { try await keys("Enter") }

    func keys(_ keys: String...) async throws {
        try await Self.tmux(["send-keys", "-t", session] + keys)
    }

    func screen() async -> String {
        (try? await Self.tmux("capture-pane", "-p", "-t", session)) ?? ""
    }

    /// Polls the screen until `condition` holds; false at the timeout.
    func waitFor(timeout: Duration = .seconds(10), _ condition: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(await screen()) { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return false
    }

    /// Reports `what` with the screen as the benchmark's error when `shown` is false; returns `shown`.
    @discardableResult
    func require(_ shown: Bool, _ what: String, in benchmark: Benchmark) async -> Bool {
        guard !shown else { return true }
        benchmark.error("\(what):\n\(await screen())")
        return false
    }

    /// The console's process id (the shell execs it).
    func pid() async throws -> Int {
        Int(try await Self.tmux("display-message", "-p", "-t", session, "#{pane_pid}")
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    func stop() async {
        _ = try? await Self.tmux("kill-session", "-t", session)
    }

    @discardableResult
    private static func tmux(_ arguments: String...) async throws -> String {
        try await tmux(arguments)
    }

    @discardableResult
    private static func tmux(_ arguments: [String]) async throws -> String {
        let result = try await run(.path("/usr/bin/tmux"), arguments: Arguments(arguments), output: .string(limit: 1 << 20),
                                   error: .discarded)
        guard result.terminationStatus.isSuccess else {
            throw BenchmarkSetupError("tmux \(arguments.joined(separator: " ")) failed: \(result.terminationStatus)")
        }
        return result.standardOutput ?? ""
    }
}
