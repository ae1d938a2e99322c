import Engine

/// `c` on nodes: classify the selected (or marked) nodes public in a pool, or private to a user.
public struct ClassifyNodes: OperatorAction {
    public enum Classification: Equatable, Sendable {
        case pool(String)
        case owner(String)
    }

    public var nodeIds: [String]
    public var classification: Classification

    public static let binding: ActionBinding? = .classify
    public static let panes: [Pane.Kind] = [.nodes]
    public static let help = "classify"

    public init(nodeIds: [String], as classification: Classification) {
        self.nodeIds = nodeIds
        self.classification = classification
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.ids.isEmpty ? nil : .line("classify \(target.describe("nodes")) as (pool NAME | @USER): ")
    }

    /// `@alice` makes them alice's; `edge` or `pool edge` puts them in pool edge.
    public init?(target: ActionTarget, answer: String) {
        guard !answer.isEmpty else { return nil }
        if answer.hasPrefix("@") {
            self.init(nodeIds: target.ids, as: .owner(String(answer.dropFirst())))
        } else {
            let pool = answer.hasPrefix("pool ") ? String(answer.dropFirst(5)).trimmingCharacters(in: .whitespaces) : answer
            self.init(nodeIds: target.ids, as: .pool(pool))
        }
    }

    public func perform(in context: ActionContext) async throws -> String {
        let nodes = context.engine.nodes, caller = context.caller
        return try await queueEach(nodeIds) { node in
            switch classification {
            case .pool(let pool): return try await nodes.classifyPublic(node, pool: pool, by: caller)
            case .owner(let owner): return try await nodes.classifyPrivate(node, owner: owner, by: caller)
            }
        }
    }
}

/// `r` on nodes: give the selected node another name.
public struct RenameNode: OperatorAction {
    public var nodeId: String
    public var name: String

    public static let binding: ActionBinding? = .rename
    public static let panes: [Pane.Kind] = [.nodes]
    public static let help = "rename"

    public init(nodeId: String, name: String) {
        self.nodeId = nodeId
        self.name = name
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.selected.map { .line("rename \($0.name) to: ", text: $0.name) }
    }

    public init?(target: ActionTarget, answer: String) {
        guard let selected = target.selected, !answer.isEmpty else { return nil }
        self.init(nodeId: selected.id, name: answer)
    }

    public func perform(in context: ActionContext) async throws -> String {
        "queued: " + (try await context.engine.nodes.rename(nodeId, to: name, by: context.caller)).description
    }
}

/// `d` on nodes: make the selected (or marked) nodes unidentified again, after a y.
public struct DeclassifyNodes: OperatorAction {
    public var nodeIds: [String]

    public static let binding: ActionBinding? = .remove
    public static let panes: [Pane.Kind] = [.nodes]
    public static let help = "declassify"

    public init(nodeIds: [String]) { self.nodeIds = nodeIds }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.ids.isEmpty ? nil : .confirmation("declassify \(target.describe("nodes"))?")
    }

    public init?(target: ActionTarget, answer: String) {
        guard ActionPrompt.isYes(answer), !target.ids.isEmpty else { return nil }
        self.init(nodeIds: target.ids)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let nodes = context.engine.nodes, caller = context.caller
        return try await queueEach(nodeIds) { try await nodes.declassify($0, by: caller) }
    }
}
