/// The `:` command line: a pane by name or alias (with a filter after it), an action's command
/// (`:pool NAME`, `:theme NAME`), or quit.
extension ConsoleView {
    mutating func runCommand(_ line: String) -> ConsoleEffect? {
        let words = line.split(separator: " ").map(String.init)
        guard let verb = words.first?.lowercased() else { return nil }
        let rest = words.dropFirst().joined(separator: " ")
        if let kind = KeyMap.paneAliases[verb], let index = panes.firstIndex(where: { $0.kind == kind }) {
            focus = index
            if !rest.isEmpty { panes[index].filter = RowFilter(rest) }
            return nil
        }
        if verb == "q" || verb == "quit" { return .quit }
        if let action = OperatorActions.named(command: verb), !rest.isEmpty {
            guard !refusesChange(action) else { return nil }
            let target = actionTarget
            if let effect = run(action.init(target: target, answer: rest), on: target) { return effect }
        }
        flash = Flash("unknown command :\(line); try \(Self.commandHint)", isError: true)
        return nil
    }

    /// Every command, for the hint after an unknown one.
    static var commandHint: String {
        let panes = [":nodes", ":processes", ":graph", ":queue", ":services", ":pools", ":users"]
        let actions = OperatorActions.all.compactMap { $0.command?.usage }
        return (panes + actions + [":quit"]).joined(separator: ", ")
    }
}
