import Foundation

/// Child processes for tests, started with `posix_spawn` and reaped with `waitpid`.
///
/// Foundation.Process on Linux now and then never noticed a child's exit when several tests
/// started processes at once (a test then waited forever in `waitUntilExit`), and pipes it left
/// open to daemons kept the test runner waiting; so tests start programs here. Output goes to
/// files, which never fill up or deadlock the way undrained pipes do.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let outputPath: String
    private let errorPath: String
    private var reaped: Int32?

    /// Starts `executable` in a process group of its own (so `kill()` reaches its children).
    /// `environment` nil inherits this process's environment; `input` is its standard input
    /// (none: /dev/null).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                input: String? = nil) throws {
        let directory = TemporaryDirectory.make().path
        outputPath = directory + "/stdout"
        errorPath = directory + "/stderr"
        var inputPath = "/dev/null"
        if let input {
            inputPath = directory + "/stdin"
            try input.write(toFile: inputPath, atomically: true, encoding: .utf8)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The test runner blocks signals (SIGTERM among them) on its threads; a child inherits
        // that mask, and a daemon it forks (tmux's server) would never see its SIGTERM. Children
        // start as from a shell: nothing blocked, default dispositions.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawnp(&child, executable, &actions, &attributes, &argv, &envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        pid = child
    }

    /// Runs a program to its end and returns its exit status and output, without holding a thread
    /// of the concurrency pool while it runs (tests run in parallel on few cores; a blocked pool
    /// thread stalls every other test, and with it their timing).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil)
        async throws -> (status: Int32, stdout: String, stderr: String)
    {
        let child = try ChildProcess(executable, arguments, environment: environment)
        let status = await child.exited()
        return (status, child.output, child.errors)
    }

    /// The same, holding the calling thread: only where nothing can be awaited (a `defer`, a
    /// `deinit`) and the program is quick.
    @discardableResult
    public static func runBlocking(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String) {
        let child = try ChildProcess(executable, arguments)
        return (child.wait(), child.output)
    }

    /// Waits for the program to end, polling, so no thread of the concurrency pool is held. A
    /// cancelled wait (a test over its time limit) kills the program rather than spin on it.
    public func exited() async -> Int32 {
        while isRunning {
            do {
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                kill()
                break
            }
        }
        return wait()
    }

    /// Waits for the program to end; returns its exit status (128 + signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        if let reaped { return reaped }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let result = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        reaped = result
        return result
    }

    /// Whether it still runs.
    public var isRunning: Bool {
        guard reaped == nil else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            reaped = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            return false
        }
        return true
    }

    /// Kills the program and its process group, and reaps it.
    public func kill() {
        guard reaped == nil else { return }
        Glibc.kill(-pid, SIGKILL)
        wait()
    }

    /// What it printed on stdout so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    public var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Waits (up to `timeout`) for a first complete line on stdout.
    public func firstLine(timeout: Duration = .seconds(10)) async -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output.split(separator: "\n", omittingEmptySubsequences: false).first, output.contains("\n") {
                return String(line)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return ""
    }

    deinit { kill() }
}
