import Engine

/// `e` on processes: edit the selected process's configuration as one line of `KEY=VALUE`
/// pairs, then confirm the difference; or `:config KEY=VALUE ... -KEY ...` (set and remove
/// keys). The process applies it while it runs; until it acknowledges, it is pending.
public struct ConfigureProcess: OperatorAction {
    public var processId: String
    public var set: [ProcessParameter]
    public var unset: [String]

    public static let binding: ActionBinding? = .edit
    public static let panes: [Pane.Kind] = [.processes]
    public static let help = "configure"
    public static let command: ActionCommand? = ActionCommand(name: "config", usage: ":config KEY=VALUE... -KEY...")
    public static let asksEngine = true

    public init(processId: String, set: [ProcessParameter], unset: [String]) {
        self.processId = processId
        self.set = set
        self.unset = unset
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { nil }

    /// First the configuration to edit (the pending one, if the process has not acknowledged it
    /// yet), then the difference to confirm, as a pick: apply or cancel.
    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        guard let selected = target.selected, answers.count < 2 else { return nil }
        let process = try await context.engine.processes.process(selected.id, by: context.caller)
        let current = process.pendingConfiguration ?? process.configuration
        guard let edited = answers.first else {
            return .line("configuration of \(process.name): ", text: current.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        guard let wanted = Self.parameters(edited) else {
            throw ConsoleActionError("write the configuration as KEY=VALUE pairs separated by spaces")
        }
        let difference = ConfigurationDifference(from: current, to: wanted)
        guard !difference.isEmpty else { throw ProcessError.nothingToChange }
        return .choice("configuration of \(process.name): \(difference.summary)", [
            ActionChoice(value: difference.command, title: "apply", note: difference.summary),
            ActionChoice(value: "", title: "cancel"),
        ])
    }

    public init?(target: ActionTarget, answer: String) {
        guard let process = target.selected?.id else { return nil }
        var set: [ProcessParameter] = [], unset: [String] = []
        for word in answer.split(separator: " ").map(String.init) {
            if word.hasPrefix("-"), word.count > 1, !word.contains("=") {
                unset.append(String(word.dropFirst()))
            } else if let (key, value) = keyValue(word) {
                set.append(ProcessParameter(key: key, value: value))
            } else {
                return nil
            }
        }
        guard !set.isEmpty || !unset.isEmpty else { return nil }
        self.init(processId: process, set: set, unset: unset)
    }

    /// `KEY=VALUE` words as parameters; nil when a word is not one.
    static func parameters(_ line: String) -> [ProcessParameter]? {
        let pairs = line.split(separator: " ").map { keyValue(String($0)) }
        guard pairs.allSatisfy({ $0 != nil }) else { return nil }
        return pairs.compactMap { $0.map { ProcessParameter(key: $0.key, value: $0.value) } }
    }

    public func perform(in context: ActionContext) async throws -> String {
        let change = try await context.engine.processes.configure(processId, set: set, unset: unset, by: context.caller)
        return "queued: \(change.description)"
    }
}

/// What an edit changes in a configuration: keys set (new or with another value) and keys removed.
struct ConfigurationDifference: Equatable {
    /// A key set by the edit, with the value it had.
    struct Setting: Equatable {
        var key: String
        var previous: String?
        var value: String
    }

    var changed: [Setting]
    var removed: [String]

    init(from current: [ProcessParameter], to wanted: [ProcessParameter]) {
        let previous = Dictionary(current.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        let kept = Set(wanted.map(\.key))
        changed = wanted.filter { previous[$0.key] != $0.value }
            .map { Setting(key: $0.key, previous: previous[$0.key], value: $0.value) }
        removed = current.map(\.key).filter { !kept.contains($0) }
    }

    var isEmpty: Bool { changed.isEmpty && removed.isEmpty }

    /// `INTERVAL 1 → 2, +DEBUG=1, -COLOR`.
    var summary: String {
        let settings = changed.map { setting in
            setting.previous.map { "\(setting.key) \($0) → \(setting.value)" } ?? "+\(setting.key)=\(setting.value)"
        }
        return (settings + removed.map { "-\($0)" }).joined(separator: ", ")
    }

    /// The same as the words of `:config`.
    var command: String {
        (changed.map { "\($0.key)=\($0.value)" } + removed.map { "-\($0)" }).joined(separator: " ")
    }
}
