/// A line the operator is typing at the bottom of the screen.
public struct Prompt: Equatable, Sendable {
    public enum Purpose: Equatable, Sendable {
        /// `:nodes`, `:queue`, `:theme light` ...
        case command
        /// `/text`, `/regex`, `/!text`: filters the focused pane as it is typed.
        case filter
        /// The question of an operator's action about its target.
        case action(AskedAction)
    }

    public var purpose: Purpose
    public var label: String
    public var text: String
}

/// An operator's action waiting for its answer: which one, on what, and whether one key answers.
public struct AskedAction: Equatable, Sendable {
    public let type: any OperatorAction.Type
    public let target: ActionTarget
    public let isConfirmation: Bool

    public static func == (left: AskedAction, right: AskedAction) -> Bool {
        left.type == right.type && left.target == right.target && left.isConfirmation == right.isConfirmation
    }
}

/// Asking the operator: an action's question, the filter typed as it narrows the pane, the
/// command line.
extension ConsoleView {
    /// The focused pane's selection and marks, as an action sees them.
    var actionTarget: ActionTarget {
        let pane = panes[focus]
        let selected = pane.table.selectedRow.map { (id: $0.id, name: $0.cells.first ?? $0.id) }
        let marked = pane.allRows.filter { pane.marked.contains($0.id) }.map(\.id)
        return ActionTarget(pane: pane.kind, selected: selected, marked: marked)
    }

    /// Asks the question of `action` about the focused pane's rows (a read-only console refuses).
    mutating func start(_ action: any OperatorAction.Type) {
        guard refusesChange(action) == false else { return }
        let target = actionTarget
        guard let question = action.prompt(for: target) else { return }
        prompt = Prompt(purpose: .action(AskedAction(type: action, target: target, isConfirmation: question.isConfirmation)),
                        label: question.label, text: question.text)
    }

    /// Whether `action` changes something in a read-only console; then the status line says why.
    mutating func refusesChange(_ action: any OperatorAction.Type) -> Bool {
        guard readOnly && action.isChange else { return false }
        flash = Flash("this console is read-only (--read-only); use a console without it to change anything", isError: true)
        return true
    }

    /// The action `answer` asks for; marks are used up once an action takes them.
    mutating func answer(_ asked: AskedAction, with answer: String) -> ConsoleEffect? {
        guard let action = asked.type.init(target: asked.target, answer: answer) else { return nil }
        if !asked.target.marked.isEmpty { panes[focus].marked = [] }
        return .run(action)
    }

    mutating func handlePrompt(_ key: Key) -> ConsoleEffect? {
        guard var current = prompt else { return nil }
        switch key {
        case .escape:
            if current.purpose == .filter { panes[focus].filter = nil }
            prompt = nil
            return nil
        case .backspace:
            if !current.text.isEmpty { current.text.removeLast() }
        case .character(let character):
            if case .action(let asked) = current.purpose, asked.isConfirmation {
                prompt = nil
                return answer(asked, with: String(character))
            }
            current.text.append(character)
        case .enter:
            prompt = nil
            let text = current.text.trimmingCharacters(in: .whitespaces)
            switch current.purpose {
            case .filter: return nil
            case .command: return runCommand(text)
            case .action(let asked): return answer(asked, with: text)
            }
        default:
            return nil
        }
        prompt = current
        if current.purpose == .filter { panes[focus].filter = current.text.isEmpty ? nil : RowFilter(current.text) }
        return nil
    }
}
