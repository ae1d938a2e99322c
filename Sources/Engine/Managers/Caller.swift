import Foundation

/// Who asks the Engine to act. Managers check it on every mutating call: authorization lives
/// in the Engine, not in the fronts.
public struct Caller: Sendable, Equatable {
    /// The user's id; nil for the local operator.
    public var userId: String?
    /// Recorded as `createdBy` and in the audit log.
    public var name: String
    public var isAdmin: Bool

    public init(userId: String?, name: String, isAdmin: Bool) {
        self.userId = userId
        self.name = name
        self.isAdmin = isAdmin
    }

    /// Someone at the machine with access to the store and the Docker socket: an admin, as
    /// Docker itself treats members of the `docker` group.
    public static func localOperator(
        name: String = ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "operator"
    ) -> Caller {
        Caller(userId: nil, name: name, isAdmin: true)
    }

    /// A user signed in through a front.
    public init(user: User) {
        self.init(userId: user.id, name: user.username, isAdmin: user.admin)
    }

    /// Whether this caller may see `node`: an admin any; a user public nodes and their own private ones.
    func maySee(_ node: Node) -> Bool {
        isAdmin || node.kind == .public || (node.kind == .private && userId != nil && node.userId == userId)
    }

    /// Whether this caller may see `process`: an admin any; a user their own.
    func maySee(_ process: ServiceProcess) -> Bool {
        isAdmin || (userId != nil && process.userId == userId)
    }

    /// Throws unless the caller is an admin.
    func requireAdmin(to action: String) throws {
        guard isAdmin else { throw AuthorizationError.adminOnly(action: action, caller: name) }
    }
}

/// The caller may not do this.
public enum AuthorizationError: UserFacingError, Equatable {
    case adminOnly(action: String, caller: String)

    public var failureKind: FailureKind {
        switch self {
        case .adminOnly: return .forbidden
        }
    }

    public var userMessage: String {
        switch self {
        case .adminOnly(let action, let caller):
            return "only an admin may \(action); \(caller) is not one"
        }
    }
}
