import Foundation
import Logging

/// The top of a process's program. A failure that ends the process (the orchestrator refused
/// its start, `PROCESS_ID` is not set, the management port is taken) is logged as one line and
/// the program exits with status 1; swarm restarts it or the operator reads why. Without this, an
/// error thrown from top-level code is a Swift runtime trap (status 132 and a backtrace).
///
/// ```swift
/// ProcessLogging.bootstrap()
/// await ProcessMain.run {
///     try await ProcessHost(service: Meter(), interfaces: Meter.interfaces).run()
/// }
/// ```
public enum ProcessMain {
    /// Runs `body`; exits 0 when it returns (the process was suspended or terminated), 1 when it throws.
    public static func run(_ body: () async throws -> Void) async -> Never {
        do {
            try await body()
            exit(0)
        } catch {
            Logger(label: "defpi.process").critical("\(error)")
            exit(1)
        }
    }
}
