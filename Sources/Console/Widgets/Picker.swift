/// A wizard's list to pick from, in a box over the panes: each entry's title and note, the
/// entries that cannot be picked dimmed with their reason, the selected one highlighted and kept
/// in sight, and the selected entry's problem spelled out under the list.
struct Picker {
    var title: String
    var choices: [ActionChoice]
    var selection: Int
    var border: BorderStyle

    func render(into grid: inout CellGrid) {
        let titleWidth = choices.map { TerminalText.displayWidth($0.title) }.max() ?? 0
        let lineWidths = choices.map { titleWidth + 4 + TerminalText.displayWidth($0.problem ?? $0.note) }
        let width = min(grid.width - 4, max(TerminalText.displayWidth(title) + 6, (lineWidths.max() ?? 0) + 4, 40))
        let listHeight = min(choices.count, max(1, grid.height - 10))
        let height = listHeight + 4
        let rect = Rect(x: (grid.width - width) / 2, y: max(2, (grid.height - height) / 2), width: width, height: height)
        grid.fill(rect)
        let inner = Frame(title: title, focused: true, border: border).render(into: &grid, rect)
        let first = min(max(0, selection - listHeight + 1), max(0, choices.count - listHeight))
        for (line, index) in (first..<min(choices.count, first + listHeight)).enumerated() {
            let choice = choices[index]
            let y = inner.y + line
            let selected = index == selection
            if selected { grid.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style: CellStyle(.selected, reverse: true)) }
            let style = CellStyle(choice.problem == nil ? (selected ? .selected : .text) : .dim, bold: selected, reverse: selected)
            grid.write((selected ? "▸ " : "  ") + choice.title, x: inner.x, y: y, style: style, limit: inner.width)
            let aside = choice.problem ?? choice.note
            let asideStyle = CellStyle(choice.problem == nil ? .dim : .warning, reverse: selected)
            grid.write(aside, x: inner.x + titleWidth + 4, y: y, style: asideStyle, limit: max(0, inner.width - titleWidth - 4))
        }
        let footer = choices.indices.contains(selection) && choices[selection].problem != nil
            ? "cannot be picked: \(choices[selection].problem!)" : "↑↓ choose  enter pick  esc cancel"
        grid.write(footer, x: inner.x + 1, y: inner.y + inner.height - 1,
                   style: CellStyle(footer.hasPrefix("cannot") ? .warning : .dim), limit: inner.width - 1)
    }
}
