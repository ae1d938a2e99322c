import Engine

/// `n` on users: add a user, asked for a username, a password (shown as stars) and a role.
public struct CreateUser: OperatorAction {
    public var username: String
    public var password: String
    public var admin: Bool

    public static let binding: ActionBinding? = .create
    public static let panes: [Pane.Kind] = [.users]
    public static let help = "new user"
    public static let asksEngine = true

    public init(username: String, password: String, admin: Bool) {
        self.username = username
        self.password = password
        self.admin = admin
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { .line("new user's name: ") }

    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        switch answers.count {
        case 0: return prompt(for: target)
        case 1: return answers[0].isEmpty ? nil : .secret("password for \(answers[0]) (8 characters or more): ")
        case 2: return .choice("role of \(answers[0])", UserRole.choices)
        default: return nil
        }
    }

    public init?(target: ActionTarget, answers: [String]) {
        guard answers.count == 3, !answers[0].isEmpty else { return nil }
        self.init(username: answers[0], password: answers[1], admin: answers[2] == UserRole.admin)
    }

    public init?(target: ActionTarget, answer: String) { nil }

    public func perform(in context: ActionContext) async throws -> String {
        let user = try await context.engine.users.create(username: username, password: password, admin: admin, by: context.caller)
        return "added \(user.admin ? "admin" : "user") \(user.username)"
    }
}

/// `A` on users: make the selected user an admin, or a user again.
public struct SetUserRole: OperatorAction {
    public var userId: String
    public var admin: Bool

    public static let binding: ActionBinding? = .role
    public static let panes: [Pane.Kind] = [.users]
    public static let help = "role"

    public init(userId: String, admin: Bool) {
        self.userId = userId
        self.admin = admin
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.selected.map { .choice("role of \($0.name)", UserRole.choices) }
    }

    public init?(target: ActionTarget, answer: String) {
        guard let selected = target.selected, answer == UserRole.admin || answer == UserRole.user else { return nil }
        self.init(userId: selected.id, admin: answer == UserRole.admin)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let user = try await context.engine.users.update(userId, admin: admin, by: context.caller)
        return "\(user.username) is \(user.admin ? "an admin" : "a user")"
    }
}

/// `p` on users: give the selected user a new password (their sign-ins end); your own asks for
/// the current one first.
public struct ResetPassword: OperatorAction {
    public var userId: String
    public var password: String
    /// The password being replaced, when it is your own.
    public var currentPassword: String?

    public static let binding: ActionBinding? = .password
    public static let panes: [Pane.Kind] = [.users]
    public static let help = "password"
    public static let asksEngine = true

    public init(userId: String, password: String, currentPassword: String? = nil) {
        self.userId = userId
        self.password = password
        self.currentPassword = currentPassword
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.selected.map { .secret("new password for \($0.name): ") }
    }

    /// Your own account: the current password, then the new one; another's: the new one.
    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        guard let selected = target.selected else { return nil }
        let own = selected.id == context.caller.userId
        switch (answers.count, own) {
        case (0, true): return .secret("your current password: ")
        case (0, false): return prompt(for: target)
        case (1, true): return .secret("new password: ")
        default: return nil
        }
    }

    public init?(target: ActionTarget, answer: String) {
        self.init(target: target, answers: [answer])
    }

    public init?(target: ActionTarget, answers: [String]) {
        guard let selected = target.selected, let password = answers.last, !password.isEmpty else { return nil }
        self.init(userId: selected.id, password: password, currentPassword: answers.count == 2 ? answers[0] : nil)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let user = try await context.engine.users.update(userId, password: password, currentPassword: currentPassword,
                                                         by: context.caller)
        return "new password for \(user.username); their sign-ins ended"
    }
}

/// `d` on users: remove the selected user, after a y.
public struct DeleteUser: OperatorAction {
    public var userId: String

    public static let binding: ActionBinding? = .remove
    public static let panes: [Pane.Kind] = [.users]
    public static let help = "delete"

    public init(userId: String) { self.userId = userId }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.selected.map { .confirmation("delete user \($0.name)?") }
    }

    public init?(target: ActionTarget, answer: String) {
        guard let selected = target.selected, ActionPrompt.isYes(answer) else { return nil }
        self.init(userId: selected.id)
    }

    public func perform(in context: ActionContext) async throws -> String {
        try await context.engine.users.delete(userId, by: context.caller)
        return "deleted the user"
    }
}

/// The two roles, as the role pickers offer them.
enum UserRole {
    static let user = "user"
    static let admin = "admin"
    static let choices = [ActionChoice(value: user, title: "user", note: "their own environment"),
                          ActionChoice(value: admin, title: "admin", note: "every user, node and pool")]
}
