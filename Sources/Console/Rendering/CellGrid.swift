/// What a cell means on screen; a theme gives each role its colours.
public enum ScreenRole: String, CaseIterable, Sendable, Codable {
    case text, dim, header, title, border, tableHeader, selected, key, crumb, banner
    case ok, warning, error
    case added, modified, deleted
}

/// The look of one cell: its role, and emphasis on top of the role's colours.
public struct CellStyle: Equatable, Sendable {
    public var role: ScreenRole
    public var bold: Bool
    public var reverse: Bool

    public init(_ role: ScreenRole = .text, bold: Bool = false, reverse: Bool = false) {
        self.role = role
        self.bold = bold
        self.reverse = reverse
    }

    public static let plain = CellStyle()
}

/// One screen cell: a grapheme and its style. A wide grapheme occupies its cell and the next,
/// which holds an empty continuation.
public struct Cell: Equatable, Sendable {
    public var text: String
    public var style: CellStyle

    public static let blank = Cell(text: " ", style: .plain)
    static let continuation = Cell(text: "", style: .plain)
}

/// A rectangle of the screen, in cells.
public struct Rect: Equatable, Sendable {
    public var x, y, width, height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    public func contains(x: Int, y: Int) -> Bool {
        x >= self.x && x < self.x + width && y >= self.y && y < self.y + height
    }

    /// This rectangle without `amount` cells on every side.
    public func inset(by amount: Int) -> Rect {
        Rect(x: x + amount, y: y + amount, width: width - 2 * amount, height: height - 2 * amount)
    }
}

/// The in-memory screen every view renders into: a grid of cells measured by display width.
/// The terminal layer flushes it to curses; tests turn it into text and compare golden files.
public struct CellGrid: Equatable, Sendable {
    public let width: Int
    public let height: Int
    private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        cells[y * width + x]
    }

    /// Writes `text` from (x, y), at most `limit` columns (default: to the right edge), cutting
    /// with `…` when it does not fit; returns the columns used. Wide characters take two
    /// columns, combining marks join the character before them.
    @discardableResult
    public mutating func write(_ text: String, x: Int, y: Int, style: CellStyle = .plain, limit: Int? = nil) -> Int {
        guard y >= 0, y < height, x < width else { return 0 }
        let available = min(limit ?? (width - x), width - x)
        guard available > 0 else { return 0 }
        // Measure each grapheme once; the total decides whether the text is cut.
        let graphemes = text.compactMap { character -> (text: String, columns: Int)? in
            character.isNewline ? nil : (String(character), max(0, TerminalText.displayWidth(String(character))))
        }
        let cut = graphemes.reduce(0) { $0 + $1.columns } > available
        let room = cut ? available - 1 : available
        var column = 0
        for (grapheme, columns) in graphemes {
            if columns == 0 && column == 0 { continue }
            if column + columns > room { break }
            let position = x + column
            if position >= 0 {
                cells[y * width + position] = Cell(text: grapheme, style: style)
                if columns == 2, position + 1 < width { cells[y * width + position + 1] = Cell(text: "", style: style) }
            }
            column += columns
        }
        if cut, x + column < width, x + column >= 0 {
            cells[y * width + x + column] = Cell(text: "…", style: style)
            column += 1
        }
        return column
    }

    /// Paints `rect` with blanks of `style`.
    public mutating func fill(_ rect: Rect, style: CellStyle = .plain) {
        for y in max(0, rect.y)..<min(height, rect.y + rect.height) {
            for x in max(0, rect.x)..<min(width, rect.x + rect.width) {
                cells[y * width + x] = Cell(text: " ", style: style)
            }
        }
    }

    /// Sets one cell (box drawing, markers).
    public mutating func put(_ text: String, x: Int, y: Int, style: CellStyle = .plain) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        cells[y * width + x] = Cell(text: text, style: style)
    }

    /// Copies the part of `source` that starts at `origin` into `rect` (a scrolled view of a
    /// larger page); a wide character cut in half at the left edge becomes a blank.
    public mutating func copy(_ source: CellGrid, from origin: (x: Int, y: Int), into rect: Rect) {
        for row in 0..<min(rect.height, source.height - origin.y) where rect.y + row < height {
            for column in 0..<min(rect.width, source.width - origin.x) where rect.x + column < width {
                var cell = source[origin.x + column, origin.y + row]
                if column == 0, cell.text.isEmpty { cell = Cell(text: " ", style: cell.style) }
                cells[(rect.y + row) * width + rect.x + column] = cell
            }
        }
    }

    /// The screen as text, one line per row, trailing blanks trimmed: what golden files hold.
    public func text() -> String {
        (0..<height).map { y in
            var line = ""
            for x in 0..<width { line += cells[y * width + x].text }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
