import Foundation

/// Runs the built `defpi` executable, as an operator would.
public enum DefpiCommand {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The `defpi` binary next to the test bundle in the build directory.
    public static var executable: URL {
        var directory = Bundle.main.bundleURL
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            directory = bundle.bundleURL.deletingLastPathComponent()
        }
        let candidate = directory.appendingPathComponent("defpi")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("defpi")
    }

    /// Runs `defpi arguments...` with `environment` added to a minimal environment (PATH only,
    /// so the caller's DEFPI_* settings do not leak in), and waits for it without holding a
    /// thread of the concurrency pool; `input` is its standard input; `launcher` runs it through
    /// another program first (`setpriv --reuid ...` to run as another user).
    public static func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil,
                           launcher: [String] = []) async throws -> Result
    {
        let child = try start(arguments, environment: environment, launcher: launcher, input: input)
        let status = await child.exited()
        return Result(status: status, stdout: child.output, stderr: child.errors)
    }

    /// Starts `defpi arguments...` and returns at once, to be killed or awaited.
    public static func spawn(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        try start(arguments, environment: environment, launcher: [])
    }

    /// libmongoc starts its shared-memory counters when the binary loads, before defpi can
    /// turn them off, and warns on stderr when a killed defpi left a segment under the same pid.
    /// The tests kill many, and read stderr line by line: their children never make segments.
    public static let noSharedMemoryCounters = "1"

    private static func start(_ arguments: [String], environment: [String: String], launcher: [String],
                              input: String? = nil) throws -> ChildProcess
    {
        var base = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        base["HOME"] = TemporaryDirectory.make().path
        base["MONGOC_DISABLE_SHM"] = Self.noSharedMemoryCounters
        let program = launcher.first ?? executable.path
        let arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [executable.path] + arguments
        return try ChildProcess(program, arguments, environment: base.merging(environment) { $1 }, input: input)
    }
}
