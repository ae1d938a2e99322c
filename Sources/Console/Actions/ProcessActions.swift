import Engine

/// `d` on processes: terminate the selected (or marked) processes, after a y.
public struct TerminateProcesses: OperatorAction {
    public var processIds: [String]

    public static let binding: ActionBinding? = .remove
    public static let panes: [Pane.Kind] = [.processes]
    public static let help = "terminate"

    public init(processIds: [String]) { self.processIds = processIds }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        target.ids.isEmpty ? nil : .confirmation("terminate \(target.describe("processes"))?")
    }

    public init?(target: ActionTarget, answer: String) {
        guard ActionPrompt.isYes(answer), !target.ids.isEmpty else { return nil }
        self.init(processIds: target.ids)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let processes = context.engine.processes, caller = context.caller
        return try await queueEach(processIds) { try await processes.terminate($0, by: caller) }
    }
}
