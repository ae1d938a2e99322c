/// A scrollable page of styled lines (headings, key–value lines, aligned tables), laid out on a
/// grid of its own size for the view to scroll over.
struct TextSheet {
    typealias Span = (text: String, style: CellStyle)
    private var lines: [[Span]] = []

    mutating func heading(_ text: String) {
        if !lines.isEmpty { lines.append([]) }
        lines.append([(text, CellStyle(.title, bold: true))])
    }

    mutating func line(_ spans: Span...) { lines.append(spans) }

    /// A table under a header, its columns as wide as their widest cell, indented by two.
    mutating func table(_ header: [String], _ rows: [[Span]]) {
        var widths = header.map(TerminalText.displayWidth)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], TerminalText.displayWidth(cell.text))
            }
        }
        func padded(_ cells: [Span]) -> [Span] {
            [("  ", .plain)] + cells.enumerated().map { index, cell in
                let isLast = index == cells.count - 1
                let padding = isLast ? "" : String(repeating: " ", count: widths[index] - TerminalText.displayWidth(cell.text) + 2)
                return (cell.text + padding, cell.style)
            }
        }
        lines.append(padded(header.map { ($0, CellStyle(.tableHeader, bold: true)) }))
        lines.append(contentsOf: rows.map(padded))
    }

    func render() -> CellGrid {
        let widths = lines.map { $0.reduce(0) { $0 + TerminalText.displayWidth($1.text) } }
        var grid = CellGrid(width: widths.max() ?? 0, height: lines.count)
        for (y, spans) in lines.enumerated() {
            var x = 0
            for span in spans { x += grid.write(span.text, x: x, y: y, style: span.style) }
        }
        return grid
    }
}
