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
    /// A picker's entries (empty for a typed line), and the one selected.
    public var choices: [ActionChoice] = []
    public var selection = 0
    /// Typed text the screen shows as stars (a password).
    public var isSecret = false
}

/// An operator's action waiting for its answer: which one, on what, whether one key answers,
/// and a wizard's earlier answers.
public struct AskedAction: Equatable, Sendable {
    public let type: any OperatorAction.Type
    public let target: ActionTarget
    public let isConfirmation: Bool
    public var answers: [String] = []

    public static func == (left: AskedAction, right: AskedAction) -> Bool {
        left.type == right.type && left.target == right.target && left.isConfirmation == right.isConfirmation
            && left.answers == right.answers
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

    /// Asks the question of `action` about the focused pane's rows (a read-only console refuses);
    /// a wizard's first question comes from the Engine, through the app.
    mutating func start(_ action: any OperatorAction.Type) -> ConsoleEffect? {
        guard refusesChange(action) == false else { return nil }
        let target = actionTarget
        if action.asksEngine { return .ask(AskedAction(type: action, target: target, isConfirmation: false)) }
        guard let question = action.prompt(for: target) else { return nil }
        ask(AskedAction(type: action, target: target, isConfirmation: question.isConfirmation), question)
        return nil
    }

    /// Shows `question` of `asked` (a wizard's next question arrives this way from the app).
    public mutating func ask(_ asked: AskedAction, _ question: ActionPrompt) {
        let asking = AskedAction(type: asked.type, target: asked.target, isConfirmation: question.isConfirmation,
                             answers: asked.answers)
        prompt = Prompt(purpose: .action(asking), label: question.label, text: question.text, choices: question.choices,
                        selection: question.choices.firstIndex { $0.problem == nil } ?? 0, isSecret: question.isSecret)
    }

    /// Whether `action` changes something in a read-only console; then the status line says why.
    mutating func refusesChange(_ action: any OperatorAction.Type) -> Bool {
        guard readOnly && action.isChange else { return false }
        flash = Flash("this console is read-only (--read-only); use a console without it to change anything", isError: true)
        return true
    }

    /// What `answer` asks for: a wizard's next question, or the action; marks are used up once
    /// an action takes them.
    mutating func answer(_ asked: AskedAction, with answer: String) -> ConsoleEffect? {
        if asked.type.asksEngine {
            guard !asked.isConfirmation || ActionPrompt.isYes(answer) else { return nil }
            var next = asked
            next.answers.append(answer)
            return .ask(next)
        }
        return run(asked.type.init(target: asked.target, answer: answer), on: asked.target)
    }

    /// Runs `action`, if there is one, using up the marks of `target`.
    mutating func run(_ action: (any OperatorAction)?, on target: ActionTarget) -> ConsoleEffect? {
        guard let action else { return nil }
        if !target.marked.isEmpty { panes[focus].marked = [] }
        return .run(action)
    }

    mutating func handlePrompt(_ key: Key) -> ConsoleEffect? {
        guard var current = prompt else { return nil }
        if !current.choices.isEmpty { return handlePicker(key, current) }
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
            // A password is taken as typed, spaces and all.
            let text = current.isSecret ? current.text : current.text.trimmingCharacters(in: .whitespaces)
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

/// A picker: ↑↓ (and the other movement keys) select, enter picks, esc cancels.
extension ConsoleView {
    private mutating func handlePicker(_ key: Key, _ picker: Prompt) -> ConsoleEffect? {
        guard case .action(let asked) = picker.purpose else { return nil }
        var current = picker
        let last = current.choices.count - 1
        switch key {
        case .escape:
            prompt = nil
            return nil
        case .enter:
            let chosen = current.choices[current.selection]
            if let problem = chosen.problem {
                flash = Flash("\(chosen.title) \(problem)", isError: true)
                return nil
            }
            prompt = nil
            return answer(asked, with: chosen.value)
        default:
            switch keyMap.entry(for: key).flatMap(ConsoleAction.init(rawValue:)) {
            case .down?: current.selection = min(last, current.selection + 1)
            case .up?: current.selection = max(0, current.selection - 1)
            case .pageDown?: current.selection = min(last, current.selection + 10)
            case .pageUp?: current.selection = max(0, current.selection - 10)
            case .first?: current.selection = 0
            case .last?: current.selection = last
            default: return nil
            }
        }
        flash = nil
        prompt = current
        return nil
    }
}
