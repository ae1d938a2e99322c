import Engine
import Foundation
import Synchronization

/// A step whose behaviour each test scripts by the change's name, and which records what it saw:
/// attempts, how many ran at once, cancellations.
struct ScriptedStep: ChangeStep {
    struct Payload: Codable, Sendable {
        var name: String
    }

    enum Behaviour: Sendable {
        case succeed
        case sleep(Duration)
        case fail(String)
        case obsolete(String)
        /// Runs until its task is cancelled (at most 30 s), never looking at the lease itself.
        case holdUntilCancelled
    }

    static let kind: PendingChangeKind = "SCRIPTED"
    static var maximumAttempts: Int { 3 }

    let log: StepLog
    /// Which engine runs it, for the log.
    var engine = "a"

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        log.began(payload.name, on: engine)
        defer { log.ended(payload.name) }
        switch log.behaviour(of: payload.name, on: engine) {
        case .succeed: return
        case .sleep(let duration): try await Task.sleep(for: duration)
        case .fail(let message): throw StepFailure(message: message)
        case .obsolete(let reason): throw ChangeObsolete(reason)
        case .holdUntilCancelled:
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                log.cancelled(payload.name)
                throw error
            }
        }
    }

    func abandoned(_ payload: Payload, change: PendingChange) async throws {
        log.abandoned(payload.name)
    }

    static func change(_ name: String, resources: [String]? = nil, userId: String? = nil,
                       runAt: Date = Date()) throws -> PendingChange {
        try PendingChange(Self.self, Payload(name: name), description: "scripted \(name)",
                          resources: resources ?? [ObjectID.generate()], userId: userId, createdBy: "test", runAt: runAt)
    }
}

struct StepFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// What the scripted steps did.
final class StepLog: Sendable {
    private struct State {
        var behaviours: [String: ScriptedStep.Behaviour] = [:]
        var attempts: [String: Int] = [:]
        var engines: [String: [String]] = [:]
        var cancelled: Set<String> = []
        var cancelledAt: [String: Date] = [:]
        var runningByName: [String: Int] = [:]
        var mostAtOnceByName: [String: Int] = [:]
        var abandoned: [String: Int] = [:]
        var running = 0
        var mostAtOnce = 0
    }

    private let state = Mutex(State())

    init(_ behaviours: [String: ScriptedStep.Behaviour] = [:]) {
        state.withLock { $0.behaviours = behaviours }
    }

    func script(_ name: String, _ behaviour: ScriptedStep.Behaviour) { state.withLock { $0.behaviours[name] = behaviour } }
    /// Scripts `name` on one engine only (it wins over the script for every engine).
    func script(_ name: String, _ behaviour: ScriptedStep.Behaviour, on engine: String) {
        state.withLock { $0.behaviours["\(name)@\(engine)"] = behaviour }
    }
    func behaviour(of name: String, on engine: String = "") -> ScriptedStep.Behaviour {
        state.withLock { $0.behaviours["\(name)@\(engine)"] ?? $0.behaviours[name] ?? .succeed }
    }
    /// When `name`'s step saw its cancellation.
    func cancelledAt(_ name: String) -> Date? { state.withLock { $0.cancelledAt[name] } }
    /// The most steps of `name` that ran at once, on any engines.
    func mostAtOnce(_ name: String) -> Int { state.withLock { $0.mostAtOnceByName[name, default: 0] } }
    func attempts(_ name: String) -> Int { state.withLock { $0.attempts[name, default: 0] } }
    func wasCancelled(_ name: String) -> Bool { state.withLock { $0.cancelled.contains(name) } }
    var mostAtOnce: Int { state.withLock { $0.mostAtOnce } }

    func engines(_ name: String) -> [String] { state.withLock { $0.engines[name, default: []] } }

    func began(_ name: String, on engine: String) {
        state.withLock {
            $0.attempts[name, default: 0] += 1
            $0.engines[name, default: []].append(engine)
            $0.running += 1
            $0.mostAtOnce = max($0.mostAtOnce, $0.running)
            $0.runningByName[name, default: 0] += 1
            $0.mostAtOnceByName[name] = max($0.mostAtOnceByName[name, default: 0], $0.runningByName[name, default: 0])
        }
    }

    func ended(_ name: String) {
        state.withLock {
            $0.running -= 1
            $0.runningByName[name, default: 0] -= 1
        }
    }
    func cancelled(_ name: String) {
        state.withLock {
            _ = $0.cancelled.insert(name)
            $0.cancelledAt[name] = Date()
        }
    }
    func abandoned(_ name: String) { state.withLock { $0.abandoned[name, default: 0] += 1 } }
    /// How often the step was told that `name` ended without taking effect.
    func timesAbandoned(_ name: String) -> Int { state.withLock { $0.abandoned[name, default: 0] } }
}

/// A second kind, which only some engines know.
struct NightlyStep: ChangeStep {
    struct Payload: Codable, Sendable {
        var name: String
    }

    static let kind: PendingChangeKind = "NIGHTLY"

    let log: StepLog
    let engine: String

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        log.began(payload.name, on: engine)
        log.ended(payload.name)
    }
}
