import Engine

/// `n` on nodes or pools, or `:pool NAME`: create a pool.
public struct CreatePool: OperatorAction {
    public var name: String

    public static let binding: ActionBinding? = .create
    public static let panes: [Pane.Kind] = [.nodes, .pools]
    public static let help = "new pool"
    public static let command: ActionCommand? = ActionCommand(name: "pool", usage: ":pool NAME")

    public init(name: String) { self.name = name }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { .line("new pool name: ") }

    public init?(target: ActionTarget, answer: String) {
        guard !answer.isEmpty else { return nil }
        self.init(name: answer)
    }

    public func perform(in context: ActionContext) async throws -> String {
        "created pool " + (try await context.engine.pools.create(named: name, by: context.caller)).name
    }
}

/// `r` on pools: give the selected pool another name.
public struct RenamePool: OperatorAction {
    public var poolId: String
    public var name: String

    public static let binding: ActionBinding? = .rename
    public static let panes: [Pane.Kind] = [.pools]
    public static let help = "rename"

    public init(poolId: String, name: String) {
        self.poolId = poolId
        self.name = name
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.selected.map { .line("rename pool \($0.name) to: ", text: $0.name) }
    }

    public init?(target: ActionTarget, answer: String) {
        guard let selected = target.selected, !answer.isEmpty else { return nil }
        self.init(poolId: selected.id, name: answer)
    }

    public func perform(in context: ActionContext) async throws -> String {
        "renamed pool to " + (try await context.engine.pools.rename(poolId, to: name, by: context.caller)).name
    }
}

/// `d` on pools: delete the selected pool, after a y.
public struct DeletePool: OperatorAction {
    public var poolId: String

    public static let binding: ActionBinding? = .remove
    public static let panes: [Pane.Kind] = [.pools]
    public static let help = "delete"

    public init(poolId: String) { self.poolId = poolId }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.selected.map { .confirmation("delete pool \($0.name)?") }
    }

    public init?(target: ActionTarget, answer: String) {
        guard let selected = target.selected, ActionPrompt.isYes(answer) else { return nil }
        self.init(poolId: selected.id)
    }

    public func perform(in context: ActionContext) async throws -> String {
        try await context.engine.pools.delete(poolId, by: context.caller)
        return "deleted the pool"
    }
}
