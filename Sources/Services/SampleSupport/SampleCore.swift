import Foundation
import Logging
import ServiceKit
import Synchronization

/// What every sample service keeps: which process it is, its configuration, and its state
/// counter. The counter and the configuration are carried over a suspend and resume (as JSON),
/// logged as they change, and reported on the Status interface.
public final class SampleCore<Configuration: ServiceConfiguration>: Sendable {
    private struct State {
        var process: String
        var configuration: Configuration
        var counter: Int64
    }

    /// What is carried from a suspended process to its next start.
    struct Carried: Codable {
        var counter: Int64
        var configuration: Configuration
    }

    private let state: Mutex<State>
    private let logger: Logger
    private let kind: String
    private let unit: String

    /// `kind` names the service in its logs (`meter`), `unit` what it counts (`reading`).
    public init(kind: String, counting unit: String) {
        self.kind = kind
        self.unit = unit
        logger = Logger(label: kind)
        state = Mutex(State(process: kind, configuration: Configuration(), counter: 0))
    }

    public var configuration: Configuration { state.withLock { $0.configuration } }
    public var process: String { state.withLock { $0.process } }
    public var counter: Int64 { state.withLock { $0.counter } }

    /// Counts one more and returns the new count.
    public func count() -> Int64 {
        state.withLock { state in
            state.counter += 1
            return state.counter
        }
    }

    /// Runs as `process` with `configuration`, counting on from `counter`.
    public func begin(process: String, configuration: Configuration, counter: Int64 = 0) {
        state.withLock { $0 = State(process: process, configuration: configuration, counter: counter) }
        logger.info("\(kind) \(process) runs from \(unit) \(counter): \(Self.describe(configuration))")
    }

    public func modify(_ configuration: Configuration) {
        state.withLock { $0.configuration = configuration }
        logger.info("configuration: \(Self.describe(configuration))")
    }

    /// The state to carry over a suspension.
    public func carry() throws -> [UInt8] {
        let carried = state.withLock { Carried(counter: $0.counter, configuration: $0.configuration) }
        logger.info("suspending at \(unit) \(carried.counter)")
        return Array(try JSONEncoder().encode(carried))
    }

    /// Carries on from what `carry()` returned, as `process`.
    public func restore(_ data: [UInt8], process: String) throws {
        let carried = try JSONDecoder().decode(Carried.self, from: Data(data))
        begin(process: process, configuration: carried.configuration, counter: carried.counter)
    }

    public func finish() {
        logger.info("terminated after \(counter) \(unit)s")
    }

    /// The Status interface, reporting this process, its counter and its configuration.
    public var statusInterface: InterfaceHandler {
        StatusInterface.handler { [self] in
            state.withLock { StatusInterface.status(process: $0.process, counter: $0.counter, configuration: $0.configuration) }
        }
    }

    private static func describe(_ configuration: Configuration) -> String {
        ((try? ConfigurationDecoder.values(of: configuration)) ?? [:]).sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// A sample service whose life is its core's: the defaults start, modify, suspend, resume and
/// terminate through it; a sample with more to do (a timer, connections) adds to them.
public protocol SampleService: DefPiService {
    var core: SampleCore<Configuration> { get }
}

extension SampleService {
    public func start(with configuration: Configuration, process: ProcessIdentity) async throws {
        core.begin(process: process.processId, configuration: configuration)
    }

    public func modify(_ configuration: Configuration) async throws { core.modify(configuration) }
    public func suspend() async throws -> [UInt8] { try core.carry() }
    public func resume(from state: [UInt8], process: ProcessIdentity) async throws {
        try core.restore(state, process: process.processId)
    }
    public func terminate() async { core.finish() }
}
