import Engine

/// An action an operator takes from the console, in the manner of k9s's extenders: one type
/// says where it applies, which key-map entry starts it, what it asks and what it does. Adding
/// an action is a new type in this folder and its line in `OperatorActions.all`; the key map,
/// help, the status line, the read-only guard and the `:` commands follow from it.
public protocol OperatorAction: Sendable, Equatable {
    /// The key-map entry that starts it, if a key does. Actions that do the same thing on
    /// different panes share one (`rename` a node or a pool), so `console.keys` rebinds them together.
    static var binding: ActionBinding? { get }
    /// The panes where its key applies.
    static var panes: [Pane.Kind] { get }
    /// What help and the status line call it.
    static var help: String { get }
    /// The `:` command that runs it with the rest of the line as the answer (`:pool NAME`).
    static var command: ActionCommand? { get }
    /// Whether it changes something (a read-only console refuses it).
    static var isChange: Bool { get }
    /// The question it asks about `target`; nil when it does not apply (no row is selected).
    static func prompt(for target: ActionTarget) -> ActionPrompt?
    /// The action the operator's answer (or a `:` command's rest of the line) asks for; nil when
    /// it asks for nothing (an empty name, "n").
    init?(target: ActionTarget, answer: String)
    /// Whether its questions are read from the Engine (a picker of the nodes that may take a
    /// process, a configuration to edit): the console then asks them one by one through
    /// `question(after:about:in:)`, a wizard.
    static var asksEngine: Bool { get }
    /// The question that follows `answers` (those given so far, in order); nil once all are answered.
    static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    /// The action a wizard's answers ask for.
    init?(target: ActionTarget, answers: [String])
    /// Carries it out through the Engine's managers; returns the outcome for the status line.
    func perform(in context: ActionContext) async throws -> String
}

extension OperatorAction {
    public static var binding: ActionBinding? { nil }
    public static var panes: [Pane.Kind] { [] }
    public static var command: ActionCommand? { nil }
    public static var isChange: Bool { true }
    public static var asksEngine: Bool { false }

    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        answers.isEmpty ? prompt(for: target) : nil
    }

    public init?(target: ActionTarget, answers: [String]) {
        self.init(target: target, answer: answers.last ?? "")
    }

    /// Whether `other` is the same action with the same arguments.
    func isEqual(to other: any OperatorAction) -> Bool { (other as? Self) == self }
}

/// Every action the console offers, in the order help lists those sharing a pane.
public enum OperatorActions {
    public static let all: [any OperatorAction.Type] = [
        ClassifyNodes.self, RenameNode.self, RenamePool.self, DeclassifyNodes.self, DeletePool.self,
        TerminateProcesses.self, CreatePool.self, DeployProcess.self, MoveProcess.self, UpgradeProcess.self,
        ConfigureProcess.self, WireProcess.self, DisconnectConnection.self, ChangeTheme.self, CreateUser.self,
        SetUserRole.self, ResetPassword.self, DeleteUser.self,
    ]

    /// The key-map entries the actions bring, each once, in the order of `all`.
    static var bindings: [ActionBinding] {
        var seen: [ActionBinding] = []
        for binding in all.compactMap({ $0.binding }) where !seen.contains(binding) { seen.append(binding) }
        return seen
    }

    /// The action `binding` starts in `pane`, if it applies there.
    static func started(by binding: String, in pane: Pane.Kind) -> (any OperatorAction.Type)? {
        all.first { $0.binding?.name == binding && $0.panes.contains(pane) }
    }

    /// The action a `:` command names.
    static func named(command name: String) -> (any OperatorAction.Type)? {
        all.first { $0.command?.name == name }
    }
}

/// A key-map entry for operator actions: its name in `console.keys`, and its stock keys.
public struct ActionBinding: Equatable, Sendable {
    public let name: String
    public let keys: [Key]

    public static let classify = ActionBinding(name: "classify", keys: [.character("c")])
    public static let rename = ActionBinding(name: "rename", keys: [.character("r")])
    public static let remove = ActionBinding(name: "remove", keys: [.character("d")])
    public static let create = ActionBinding(name: "create", keys: [.character("n")])
    public static let move = ActionBinding(name: "move", keys: [.character("m")])
    public static let upgrade = ActionBinding(name: "upgrade", keys: [.character("u")])
    public static let edit = ActionBinding(name: "edit", keys: [.character("e")])
    public static let wire = ActionBinding(name: "wire", keys: [.character("w")])
    public static let disconnect = ActionBinding(name: "disconnect", keys: [.character("x")])
    public static let role = ActionBinding(name: "role", keys: [.character("A")])
    public static let password = ActionBinding(name: "password", keys: [.character("p")])
}

/// A `:` command that runs an action: its word, and how the unknown-command hint shows it.
public struct ActionCommand: Sendable {
    public let name: String
    public let usage: String
}

/// What an action acts on: the focused pane's selected row and its marked rows.
public struct ActionTarget: Sendable, Equatable {
    public var pane: Pane.Kind
    /// The selected row's id and name (its first cell); nil when the pane has no rows.
    public var selected: (id: String, name: String)?
    public var marked: [String]

    public init(pane: Pane.Kind, selected: (id: String, name: String)?, marked: [String] = []) {
        self.pane = pane
        self.selected = selected
        self.marked = marked
    }

    /// What a bulk action acts on: the marked rows, else the selected one.
    public var ids: [String] { marked.isEmpty ? selected.map { [$0.id] } ?? [] : marked }

    /// How a prompt names the rows: the selected row's name, or "2 marked nodes".
    public func describe(_ noun: String) -> String {
        marked.isEmpty ? selected?.name ?? "" : "\(marked.count) marked \(noun)"
    }

    public static func == (left: ActionTarget, right: ActionTarget) -> Bool {
        left.pane == right.pane && left.selected?.id == right.selected?.id && left.selected?.name == right.selected?.name
            && left.marked == right.marked
    }
}

/// The question an action asks: a line to type (starting from `text`), one y/n key, or a pick
/// from a list.
public struct ActionPrompt: Sendable, Equatable {
    public var label: String
    public var text: String
    public var isConfirmation: Bool
    /// The entries of a picker; empty for a line or a confirmation.
    public var choices: [ActionChoice] = []
    /// A line whose text the screen never shows (a password).
    public var isSecret = false

    /// A line to type, starting from `text`.
    public static func line(_ label: String, text: String = "") -> ActionPrompt {
        ActionPrompt(label: label, text: text, isConfirmation: false)
    }

    /// A line to type that the screen shows as stars.
    public static func secret(_ label: String) -> ActionPrompt {
        ActionPrompt(label: label, text: "", isConfirmation: false, isSecret: true)
    }

    /// One key: y goes on, anything else cancels.
    public static func confirmation(_ question: String) -> ActionPrompt {
        ActionPrompt(label: question + " (y/n) ", text: "", isConfirmation: true)
    }

    /// A list to pick one entry from (↑↓ and enter); entries with a problem show it and cannot be picked.
    public static func choice(_ label: String, _ choices: [ActionChoice]) -> ActionPrompt {
        ActionPrompt(label: label, text: "", isConfirmation: false, choices: choices)
    }

    /// Whether a confirmation's answer is yes.
    public static func isYes(_ answer: String) -> Bool { answer == "y" || answer == "Y" }
}

/// One entry of a picker: the answer it gives, what it shows, and why it cannot be picked.
public struct ActionChoice: Sendable, Equatable {
    /// The answer picking it gives the action.
    public var value: String
    public var title: String
    /// A word about it ("newest", "3 nodes can take it"), shown beside the title.
    public var note: String
    /// Why it cannot be picked now; nil when it can.
    public var problem: String?

    public init(value: String, title: String, note: String = "", problem: String? = nil) {
        self.value = value
        self.title = title
        self.note = note
        self.problem = problem
    }
}

/// What an action runs with: the Engine, as whom, and the console's own settings.
public struct ActionContext: Sendable {
    public let engine: Engine
    public let caller: Caller
    /// Where `:theme NAME` looks for themes.
    public let themeDirectory: String
    /// Switches the console to another theme.
    public let useTheme: @Sendable (Theme) -> Void
}

/// `KEY=VALUE` split at its first `=`; nil without a key or without `=`.
func keyValue(_ word: String) -> (key: String, value: String)? {
    guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { return nil }
    return (String(word[..<equals]), String(word[word.index(after: equals)...]))
}

/// Queues one change per id (a bulk action on marked rows); says what was queued.
func queueEach(_ ids: [String], _ queue: (String) async throws -> PendingChange) async throws -> String {
    var changes: [PendingChange] = []
    for id in ids { changes.append(try await queue(id)) }
    return changes.count == 1 ? "queued: \(changes[0].description)" : "queued \(changes.count) changes"
}

/// Why an action cannot go on, for the status line: what is missing and what to do.
struct ConsoleActionError: UserFacingError {
    let userMessage: String

    init(_ message: String) { userMessage = message }
}
