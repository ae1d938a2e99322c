import Benchmark

extension Benchmark {
    /// Runs a step an iteration needs (start a console, create processes, read a response),
    /// tried again up to `attempts` times a second apart when it fails: a tmux session or a
    /// Docker call that hiccups once does not end the run. A step that fails every time is
    /// reported as this benchmark's error and returns nil, and the caller ends the iteration:
    /// a set-up failure is never a trap that takes the other benchmarks' figures with it.
    public func step<Value>(_ what: String, attempts: Int = 3, _ body: () async throws -> Value) async -> Value? {
        for attempt in 1...max(1, attempts) {
            do {
                return try await body()
            } catch {
                guard attempt < attempts else {
                    self.error("\(what) failed \(attempts) times: \(error)")
                    return nil
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return nil
    }
}

/// A step of a benchmark's own set-up that did not work; the message says which and why.
public struct BenchmarkSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
