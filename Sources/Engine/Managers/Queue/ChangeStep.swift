import Foundation

/// One kind of pending change: what its payload holds and how to carry it out. The manager that
/// owns the subject (a node, a process, a connection) defines the step and registers it with the
/// queue; an engine leases only the kinds it has steps for.
///
/// `run` is called until it returns, possibly many times and on several engines (after a crash,
/// a lost lease or a failure), so it must re-read the latest state from the store, be idempotent,
/// and call `lease.check()` before each side effect outside the store.
public protocol ChangeStep: Sendable {
    associatedtype Payload: Codable & Sendable

    /// The kind written in the change's `type`.
    static var kind: PendingChangeKind { get }
    /// Attempts after which a change still failing fails for good.
    static var maximumAttempts: Int { get }

    /// Carries the change out. Throw `ChangeObsolete` when the subject is gone or no longer
    /// needs it, `PermanentChangeFailure` when retrying cannot help, anything else to retry.
    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws

    /// The change ended without taking effect (failed for good or cancelled): undo what its
    /// earlier attempts left half done, so the subject is never stuck between two states. Called
    /// once, best effort, by the engine that ended it; a crash in between is caught by the
    /// owning manager's periodic repair, which does the same. By default there is nothing to undo.
    func abandoned(_ payload: Payload, change: PendingChange) async throws
}

extension ChangeStep {
    public static var maximumAttempts: Int { 12 }

    public func abandoned(_ payload: Payload, change: PendingChange) async throws {}
}

/// A failure that retrying cannot fix: the change fails for good with this message.
public struct PermanentChangeFailure: UserFacingError {
    public var userMessage: String
    public init(_ message: String) { userMessage = message }
}

/// The change has nothing left to do: its subject is gone or terminated. It ends as `CANCELLED`
/// with this reason instead of being retried for ever.
public struct ChangeObsolete: UserFacingError {
    public var userMessage: String
    /// The subject is not in the store. A young change waits for it instead of ending: a store
    /// without transactions (MongoDB) makes the change visible before the intent written with it
    /// (`PendingChangeManager.subjectGrace`).
    public var subjectMissing = false

    public init(_ reason: String) { userMessage = reason }

    /// The subject is not stored (or no longer).
    public static func missing(_ reason: String) -> ChangeObsolete {
        var obsolete = ChangeObsolete(reason)
        obsolete.subjectMissing = true
        return obsolete
    }
}

/// A registered step, its payload type erased, as the queue calls it.
struct RegisteredStep: Sendable {
    let maximumAttempts: Int
    let run: @Sendable (PendingChange, ChangeLease) async throws -> Void
    let abandoned: @Sendable (PendingChange) async throws -> Void

    init<Step: ChangeStep>(_ step: Step) {
        maximumAttempts = Step.maximumAttempts
        run = { change, lease in
            try await step.run(try Self.payload(of: change, as: Step.self), change: change, lease: lease)
        }
        abandoned = { change in
            try await step.abandoned(try Self.payload(of: change, as: Step.self), change: change)
        }
    }

    private static func payload<Step: ChangeStep>(of change: PendingChange, as step: Step.Type) throws -> Step.Payload {
        do {
            return try change.payload.decode(as: Step.Payload.self)
        } catch {
            throw PermanentChangeFailure("the change's payload does not fit a \(Step.kind.rawValue) change (\(error))")
        }
    }
}
