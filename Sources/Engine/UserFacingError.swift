/// An error that can be shown to an operator: what went wrong and what to do, in one or two
/// sentences, plus a detail for logs and bug reports.
public protocol UserFacingError: Error, CustomStringConvertible {
    /// What went wrong and what to do about it, for the operator.
    var userMessage: String { get }
    /// Technical detail (codes, raw server messages) for logs; nil when the message says it all.
    var debugDetail: String? { get }
}

extension UserFacingError {
    public var debugDetail: String? { nil }
    public var description: String {
        if let debugDetail { return "\(userMessage) (\(debugDetail))" }
        return userMessage
    }
}
