/// The characters a frame is drawn with.
public enum BorderStyle: String, Codable, Sendable, CaseIterable {
    case single, double, rounded, ascii

    /// Top-left, top-right, bottom-left, bottom-right, horizontal, vertical.
    var characters: (String, String, String, String, String, String) {
        switch self {
        case .single: return ("┌", "┐", "└", "┘", "─", "│")
        case .double: return ("╔", "╗", "╚", "╝", "═", "║")
        case .rounded: return ("╭", "╮", "╰", "╯", "─", "│")
        case .ascii: return ("+", "+", "+", "+", "-", "|")
        }
    }
}

/// A bordered box with a title, like k9s's pane frames; returns the inner rectangle.
public struct Frame {
    public var title: String
    public var focused: Bool
    public var border: BorderStyle

    public init(title: String, focused: Bool, border: BorderStyle) {
        self.title = title
        self.focused = focused
        self.border = border
    }

    @discardableResult
    public func render(into grid: inout CellGrid, _ rect: Rect) -> Rect {
        guard rect.width >= 2, rect.height >= 2 else { return Rect(x: rect.x, y: rect.y, width: 0, height: 0) }
        let (topLeft, topRight, bottomLeft, bottomRight, horizontal, vertical) = border.characters
        let style = CellStyle(focused ? .title : .border, bold: focused)
        let right = rect.x + rect.width - 1
        let bottom = rect.y + rect.height - 1
        grid.put(topLeft, x: rect.x, y: rect.y, style: style)
        grid.put(topRight, x: right, y: rect.y, style: style)
        grid.put(bottomLeft, x: rect.x, y: bottom, style: style)
        grid.put(bottomRight, x: right, y: bottom, style: style)
        for x in (rect.x + 1)..<right {
            grid.put(horizontal, x: x, y: rect.y, style: style)
            grid.put(horizontal, x: x, y: bottom, style: style)
        }
        for y in (rect.y + 1)..<bottom {
            grid.put(vertical, x: rect.x, y: y, style: style)
            grid.put(vertical, x: right, y: y, style: style)
        }
        if !title.isEmpty, rect.width > 6 {
            grid.write(" \(title) ", x: rect.x + 2, y: rect.y, style: CellStyle(.title, bold: true), limit: rect.width - 4)
        }
        return rect.inset(by: 1)
    }
}
