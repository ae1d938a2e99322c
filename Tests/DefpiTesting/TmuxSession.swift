import Foundation

/// A program running in a detached tmux session of a fixed size, driven as an operator would:
/// keys in, screen captured as text.
///
/// Each session has a tmux server of its own (its own socket, `-L`): on one shared server, the
/// test that killed the last session stopped the server while another test's `new-session`
/// was connecting to it, and that test failed before it began.
public final class TmuxSession: @unchecked Sendable {
    public let name = "defpi-test-\(UUID().uuidString.prefix(8))"

    /// Starts `command` (a shell command line) with `environment` in a `width`x`height` colour
    /// terminal. (`swift test` sets NO_COLOR=1, and the tmux server would hand it on.)
    public init(_ command: String, environment: [String: String] = [:], width: Int = 120, height: Int = 40) throws {
        let exports = environment.merging(["MONGOC_DISABLE_SHM": DefpiCommand.noSharedMemoryCounters]) { given, _ in given }
            .map { "\($0.key)='\($0.value)'" }.sorted().joined(separator: " ")
        try tmux(["new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)",
                       "env -u NO_COLOR TERM=xterm-256color NCURSES_NO_UTF8_ACS=1 \(exports) \(command)"])
    }

    /// The `defpi console` under test, with `arguments`, logging to a file of its own.
    public static func console(_ arguments: String = "", environment: [String: String]) throws -> TmuxSession {
        try TmuxSession("\(DefpiCommand.executable.path) console --log \(TemporaryDirectory.make().path)/console.log \(arguments)",
                        environment: environment)
    }

    /// The screen as text.
    public func capture() -> String {
        (try? tmux(["capture-pane", "-p", "-t", name])) ?? ""
    }

    /// The screen with its attributes, as the terminal holds them: SGR escape sequences
    /// (`ESC[32m` ...) before the characters they colour.
    public func captureWithAttributes() -> String {
        (try? tmux(["capture-pane", "-p", "-e", "-t", name])) ?? ""
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
        _ = try? tmux(["send-keys", "-t", name] + keys)
    }

    /// The process id of the program in the pane (to signal it).
    public func programId() throws -> pid_t {
        let answer = try tmux(["display-message", "-p", "-t", name, "#{pane_pid}"])
        guard let pid = pid_t(answer.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TmuxFailure(command: "display-message", status: 0, message: "no pane pid in \"\(answer)\"")
        }
        return pid
    }

    /// Whether the program is still running.
    public var isRunning: Bool { (try? tmux(["has-session", "-t", name])) != nil }

    /// Ends the program; this session's tmux server, left with no session, ends with it (its
    /// socket file stays behind: removed here).
    public func kill() {
        _ = try? tmux(["kill-session", "-t", name])
        let directory = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
        try? FileManager.default.removeItem(atPath: "\(directory)/tmux-\(getuid())/\(name)")
    }

    deinit { kill() }

    /// tmux answers in milliseconds: holding the thread is cheaper than a poll.
    @discardableResult
    private func tmux(_ arguments: [String]) throws -> String {
        let child = try ChildProcess("/usr/bin/tmux", ["-L", name] + arguments)
        let status = child.wait()
        guard status == 0 else {
            throw TmuxFailure(command: arguments.first ?? "", status: status, message: child.errors)
        }
        return child.output
    }
}

/// A tmux command that failed, with what tmux said.
public struct TmuxFailure: Error, CustomStringConvertible {
    public let command: String
    public let status: Int32
    public let message: String
    public var description: String { "tmux \(command) exited \(status): \(message)" }
}
