/// An error that can be shown to an operator: what went wrong and what to do, in one or two
/// sentences, plus a detail for logs and bug reports.
public protocol UserFacingError: Error, CustomStringConvertible {
    /// What went wrong and what to do about it, for the operator.
    var userMessage: String { get }
    /// Technical detail (codes, raw server messages) for logs; nil when the message says it all.
    var debugDetail: String? { get }
    /// What kind of failure it is, for fronts that answer with a status (HTTP) or an exit code.
    var failureKind: FailureKind { get }
}

extension UserFacingError {
    public var debugDetail: String? { nil }
    public var failureKind: FailureKind { .failed }
    public var description: String {
        if let debugDetail { return "\(userMessage) (\(debugDetail))" }
        return userMessage
    }
}

/// The kinds of failure a front tells apart: each is one HTTP status of the REST API.
public enum FailureKind: Sendable, Equatable {
    /// The request itself is wrong (a malformed value, a broken rule): fix it and ask again.
    case invalidRequest
    /// Nothing the caller may see has this name.
    case notFound
    /// The caller may see it, but not do this.
    case forbidden
    /// The request clashes with the current state (a taken name, a full interface, a busy process).
    case conflict
    /// No one is signed in, or the sign-in was refused.
    case unauthenticated
    /// Too many failed sign-ins: ask again after the given time.
    case throttled(retryAfter: Duration)
    /// A part defpi relies on (Docker, the registry, the store, a process) does not answer now.
    case unavailable
    /// Anything else: a fault of defpi or of a part it relies on.
    case failed
}
