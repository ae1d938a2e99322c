/// One column of a table: its title, how narrow it may get, and its share of spare room.
public struct TableColumn: Sendable, Equatable {
    public var title: String
    public var minWidth: Int
    /// Columns with weight 0 keep their natural width; the others shrink first, by weight.
    public var weight: Int

    public init(_ title: String, minWidth: Int = 4, weight: Int = 0) {
        self.title = title
        self.minWidth = minWidth
        self.weight = weight
    }
}

/// How a row changed since the last refresh; the theme colours it.
public enum RowChange: Sendable, Equatable {
    case none, added, modified, deleted
}

/// One row of a table: an identity (kept across refreshes for selection), its cells, how it
/// changed, and roles for cells that carry a status colour.
public struct TableRow: Sendable, Equatable {
    public var id: String
    public var cells: [String]
    public var change: RowChange
    public var cellRoles: [Int: ScreenRole]

    public init(id: String, cells: [String], change: RowChange = .none, cellRoles: [Int: ScreenRole] = [:]) {
        self.id = id
        self.cells = cells
        self.change = change
        self.cellRoles = cellRoles
    }
}

/// A scrolling table with a header and a selected row. Only the rows in view are measured and
/// drawn, so its cost does not grow with the number of rows.
public struct TableView: Sendable {
    public var columns: [TableColumn]
    public private(set) var rows: [TableRow] = []
    public private(set) var selection = 0
    private var offset = 0
    /// The sorted column and its direction, shown with an arrow in the header.
    public var sortIndicator: (column: Int, ascending: Bool)?
    /// Row ids drawn as marked.
    public var marked: Set<String> = []

    public init(columns: [TableColumn]) { self.columns = columns }

    /// The selected row, if any.
    public var selectedRow: TableRow? { rows.indices.contains(selection) ? rows[selection] : nil }

    /// Replaces the rows, keeping the selection on the same row id when it is still there.
    public mutating func setRows(_ newRows: [TableRow]) {
        let selectedId = selectedRow?.id
        rows = newRows
        if let selectedId, let index = rows.firstIndex(where: { $0.id == selectedId }) {
            selection = index
        } else {
            selection = min(selection, max(0, rows.count - 1))
        }
    }

    /// Moves the selection by `delta` rows, clamped.
    public mutating func moveSelection(by delta: Int) {
        guard !rows.isEmpty else { return }
        selection = min(max(0, selection + delta), rows.count - 1)
    }

    /// Selects the row drawn on `line` of the table's body at the last render, if there is one.
    public mutating func select(line: Int) {
        guard line >= 0, offset + line < rows.count else { return }
        selection = offset + line
    }

    public mutating func selectFirst() { selection = 0 }
    public mutating func selectLast() { selection = max(0, rows.count - 1) }

    public mutating func render(into grid: inout CellGrid, _ rect: Rect, focused: Bool) {
        guard rect.width > 0, rect.height > 0 else { return }
        let visible = max(0, rect.height - 1)
        if selection < offset { offset = selection }
        if selection >= offset + visible { offset = selection - visible + 1 }
        offset = max(0, min(offset, max(0, rows.count - visible)))
        let shown = Array(rows[min(offset, rows.count)..<min(rows.count, offset + visible)])
        let widths = layout(shown, width: rect.width)

        var x = rect.x
        for (index, column) in columns.enumerated() where widths[index] > 0 {
            let arrow = sortIndicator.map { $0.column == index ? ($0.ascending ? "↑" : "↓") : "" } ?? ""
            grid.write(column.title + arrow, x: x, y: rect.y, style: CellStyle(.tableHeader, bold: true), limit: widths[index])
            x += widths[index] + 2
        }
        for (line, row) in shown.enumerated() {
            let y = rect.y + 1 + line
            let isSelected = focused && offset + line == selection
            let isMarked = marked.contains(row.id)
            let rowStyle = isSelected ? CellStyle(.selected, bold: isMarked, reverse: true)
                : isMarked ? CellStyle(.key, bold: true) : CellStyle(row.change.role)
            if isSelected { grid.fill(Rect(x: rect.x, y: y, width: rect.width, height: 1), style: rowStyle) }
            var x = rect.x
            for index in columns.indices where widths[index] > 0 {
                let text = index < row.cells.count ? row.cells[index] : ""
                var style = rowStyle
                if !isSelected, !isMarked, row.change == .none, let role = row.cellRoles[index] { style = CellStyle(role) }
                grid.write(text, x: x, y: y, style: style, limit: widths[index])
                x += widths[index] + 2
            }
        }
        if rows.isEmpty, rect.height > 1 {
            grid.write("(none)", x: rect.x, y: rect.y + 1, style: CellStyle(.dim), limit: rect.width)
        }
    }

    /// Column widths for `shown` in `width` columns: natural widths, then flexible columns
    /// shrink by weight to their minimum, then columns from the right are dropped (width 0).
    func layout(_ shown: [TableRow], width: Int) -> [Int] {
        var widths = columns.enumerated().map { index, column in
            shown.reduce(TerminalText.displayWidth(column.title) + (sortIndicator?.column == index ? 1 : 0)) { widest, row in
                max(widest, index < row.cells.count ? TerminalText.displayWidth(row.cells[index]) : 0)
            }
        }
        func total() -> Int { widths.filter { $0 > 0 }.reduce(0, +) + 2 * max(0, widths.filter { $0 > 0 }.count - 1) }
        var excess = total() - width
        let flexible = columns.indices.filter { columns[$0].weight > 0 }
        while excess > 0 {
            let shrinkable = flexible.filter { widths[$0] > columns[$0].minWidth }
            guard !shrinkable.isEmpty else { break }
            // Each takes a share of the excess by its slack above its minimum times its weight,
            // so the widest flexible columns give up the most.
            let slack = shrinkable.reduce(0) { $0 + (widths[$1] - columns[$1].minWidth) * columns[$1].weight }
            var taken = 0
            for index in shrinkable {
                let share = max(1, excess * (widths[index] - columns[index].minWidth) * columns[index].weight / max(1, slack))
                let cut = min(share, widths[index] - columns[index].minWidth, excess - taken)
                widths[index] -= cut
                taken += cut
                if taken >= excess { break }
            }
            if taken == 0 { break }
            excess -= taken
        }
        var last = columns.count - 1
        while total() > width, last > 0 {
            widths[last] = 0
            last -= 1
        }
        if total() > width, let first = widths.indices.first { widths[first] = width }
        return widths
    }
}

extension RowChange {
    var role: ScreenRole {
        switch self {
        case .none: return .text
        case .added: return .added
        case .modified: return .modified
        case .deleted: return .deleted
        }
    }
}
