import Foundation

/// A program running in a detached tmux session of a fixed size, driven as an operator would:
/// keys in, screen captured as text.
public final class TmuxSession: @unchecked Sendable {
    public let name = "defpi-test-\(UUID().uuidString.prefix(8))"

    /// Starts `command` (a shell command line) with `environment` in a `width`x`height` colour
    /// terminal. (`swift test` sets NO_COLOR=1, and the tmux server would hand it on.)
    public init(_ command: String, environment: [String: String] = [:], width: Int = 120, height: Int = 40) throws {
        let exports = environment.merging(["MONGOC_DISABLE_SHM": DefpiCommand.noSharedMemoryCounters]) { given, _ in given }
            .map { "\($0.key)='\($0.value)'" }.sorted().joined(separator: " ")
        try Self.tmux(["new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)",
                       "env -u NO_COLOR TERM=xterm-256color NCURSES_NO_UTF8_ACS=1 \(exports) \(command)"])
    }

    /// The `defpi console` under test, with `arguments`, logging to a file of its own.
    public static func console(_ arguments: String = "", environment: [String: String]) throws -> TmuxSession {
        try TmuxSession("\(DefpiCommand.executable.path) console --log \(TemporaryDirectory.make().path)/console.log \(arguments)",
                        environment: environment)
    }

    /// The screen as text.
    public func capture() -> String {
        (try? Self.tmux(["capture-pane", "-p", "-t", name])) ?? ""
    }

    /// The screen with its attributes, as the terminal holds them: SGR escape sequences
    /// (`ESC[32m` ...) before the characters they colour.
    public func captureWithAttributes() -> String {
        (try? Self.tmux(["capture-pane", "-p", "-e", "-t", name])) ?? ""
    }

    /// Whether `text` shows on the screen within `seconds`.
    public func sees(_ text: String, within seconds: Int = 10) async -> Bool {
        await eventually(timeout: .seconds(seconds)) { self.capture().contains(text) }
    }

    /// Whether a line of the screen shows `name` and every one of `words` within `seconds`.
    public func row(_ name: String, contains words: String..., within seconds: Int = 60) async -> Bool {
        await eventually(timeout: .seconds(seconds)) {
            self.capture().split(separator: "\n").contains { line in line.contains(name) && words.allSatisfy(line.contains) }
        }
    }

    public func send(_ keys: String...) {
        _ = try? Self.tmux(["send-keys", "-t", name] + keys)
    }

    /// Whether the program is still running.
    public var isRunning: Bool { (try? Self.tmux(["has-session", "-t", name])) != nil }

    public func kill() { _ = try? Self.tmux(["kill-session", "-t", name]) }

    deinit { kill() }

    /// tmux answers in milliseconds: holding the thread is cheaper than a poll.
    @discardableResult
    private static func tmux(_ arguments: [String]) throws -> String {
        let result = try ChildProcess.runBlocking("/usr/bin/tmux", arguments)
        guard result.status == 0 else { throw POSIXError(.EIO) }
        return result.stdout
    }
}
