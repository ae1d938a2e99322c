import Engine

/// `m` on processes: move the selected process (or the marked ones), picked from every place it
/// could go (anywhere, each pool, each node, with why one cannot take it), or `:move NODE |
/// pool=P | anywhere`. Each is suspended, its state saved, and it resumes there.
public struct MoveProcess: OperatorAction {
    public var processIds: [String]
    public var target: PlacementRequest

    public static let binding: ActionBinding? = .move
    public static let panes: [Pane.Kind] = [.processes]
    public static let help = "move"
    public static let command: ActionCommand? = ActionCommand(name: "move", usage: ":move NODE|pool=P|anywhere")
    public static let asksEngine = true

    public init(processIds: [String], target: PlacementRequest) {
        self.processIds = processIds
        self.target = target
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { nil }

    /// The places are those of the first process; where one of the others cannot go, the
    /// Engine refuses that one and says why.
    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        guard answers.isEmpty, let first = target.ids.first else { return nil }
        let options = try await context.engine.processes.placementOptions(moving: first, by: context.caller)
        return .choice("move \(target.describe("processes")) to", options.map(PlacementChoice.choice))
    }

    public init?(target: ActionTarget, answer: String) {
        guard !target.ids.isEmpty, let placement = PlacementChoice.request(answer) else { return nil }
        self.init(processIds: target.ids, target: placement)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let processes = context.engine.processes, caller = context.caller, target = self.target
        return try await queueEach(processIds) { try await processes.relocate($0, version: nil, target: target, by: caller) }
    }
}

/// `u` on processes: upgrade (or downgrade) the selected process to a version picked from the
/// registry's, or `:upgrade VERSION`; its configuration and state are kept.
public struct UpgradeProcess: OperatorAction {
    public var processId: String
    public var version: String

    public static let binding: ActionBinding? = .upgrade
    public static let panes: [Pane.Kind] = [.processes]
    public static let help = "upgrade"
    public static let command: ActionCommand? = ActionCommand(name: "upgrade", usage: ":upgrade VERSION")
    public static let asksEngine = true

    public init(processId: String, version: String) {
        self.processId = processId
        self.version = version
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { nil }

    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        guard answers.isEmpty, let selected = target.selected else { return nil }
        let process = try await context.engine.processes.process(selected.id, by: context.caller)
        let versions = try await context.engine.services.versions(of: process.serviceId)
        let newest = versions.first { $0.problem == nil }?.version
        return .choice("run \(process.name) (\(process.serviceId) \(process.serviceVersion)) at version", versions.map { service in
            ActionChoice(value: service.version, title: service.version, note: service.version == newest ? "newest" : "",
                         problem: service.version == process.serviceVersion ? "is the version it runs" : service.problem)
        })
    }

    public init?(target: ActionTarget, answer: String) {
        guard let process = target.selected?.id, !answer.isEmpty, !answer.contains(" ") else { return nil }
        self.init(processId: process, version: answer)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let change = try await context.engine.processes.relocate(processId, version: version, target: nil, by: context.caller)
        return "queued: \(change.description)"
    }
}
