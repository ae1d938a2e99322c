import Engine

/// `n` on processes, or `:deploy SERVICE[:VERSION] [user=U] [node=N | pool=P] [name=N] [KEY=VALUE]...`:
/// deploy a service version as a new process.
public struct DeployProcess: OperatorAction {
    public var request: ProcessRequest

    public static let binding: ActionBinding? = .create
    public static let panes: [Pane.Kind] = [.processes]
    public static let help = "deploy"
    public static let command: ActionCommand? = ActionCommand(name: "deploy", usage: ":deploy SERVICE[:VERSION] [pool=P|node=N] [KEY=VALUE]")

    public init(request: ProcessRequest) { self.request = request }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? {
        .line("deploy SERVICE[:VERSION] [user=U] [pool=P | node=N] [name=N] [KEY=VALUE]...: ")
    }

    /// The first word names the service (and version); `user=`, `node=`, `pool=` and `name=`
    /// say whose, where and what it is called; any other `KEY=VALUE` is its configuration.
    public init?(target: ActionTarget, answer: String) {
        let words = answer.split(separator: " ").map(String.init)
        guard let service = words.first, !service.contains("=") else { return nil }
        let parts = service.split(separator: ":", maxSplits: 1).map(String.init)
        var request = ProcessRequest(serviceId: parts[0], version: parts.count > 1 ? parts[1] : nil)
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { return nil }
            let key = String(word[..<equals]), value = String(word[word.index(after: equals)...])
            switch key {
            case "user": request.owner = value
            case "node": request.target = .node(value)
            case "pool": request.target = .pool(value)
            case "name": request.name = value
            default: request.configuration.append(ProcessParameter(key: key, value: value))
            }
        }
        self.init(request: request)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let (process, change) = try await context.engine.processes.create(request, by: context.caller)
        return "queued: \(change.description) (\(process.name))"
    }
}

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
