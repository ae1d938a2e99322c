/// Lines drawn on a grid as directions per cell: each segment adds its directions, and a cell's
/// glyph follows from all of them, so corners, joins and crossings come out right
/// (`─ │ ┌ ┐ └ ┘ ├ ┤ ┬ ┴ ┼`, or `- | +` in ASCII).
struct LineCanvas {
    struct Directions: OptionSet, Hashable {
        let rawValue: UInt8
        static let left = Directions(rawValue: 1)
        static let right = Directions(rawValue: 2)
        static let up = Directions(rawValue: 4)
        static let down = Directions(rawValue: 8)
    }

    struct Point: Hashable {
        var x, y: Int
    }

    private(set) var cells: [Point: Directions] = [:]

    /// A horizontal segment on row `y` between two columns, both included.
    mutating func horizontal(y: Int, from start: Int, to end: Int) {
        let (low, high) = (min(start, end), max(start, end))
        for x in low...high {
            var directions: Directions = []
            if x > low { directions.insert(.left) }
            if x < high { directions.insert(.right) }
            if low == high { directions = [.left, .right] }
            cells[Point(x: x, y: y), default: []].formUnion(directions)
        }
    }

    /// A vertical segment in column `x` between two rows, both included.
    mutating func vertical(x: Int, from start: Int, to end: Int) {
        let (low, high) = (min(start, end), max(start, end))
        guard low < high else { return }
        for y in low...high {
            var directions: Directions = []
            if y > low { directions.insert(.up) }
            if y < high { directions.insert(.down) }
            cells[Point(x: x, y: y), default: []].formUnion(directions)
        }
    }

    /// Draws every line cell into `grid`.
    func draw(into grid: inout CellGrid, ascii: Bool, style: CellStyle) {
        for (point, directions) in cells {
            grid.put(Self.glyph(directions, ascii: ascii), x: point.x, y: point.y, style: style)
        }
    }

    static func glyph(_ directions: Directions, ascii: Bool) -> String {
        let horizontal = directions.isDisjoint(with: [.up, .down])
        let vertical = directions.isDisjoint(with: [.left, .right])
        if ascii { return horizontal ? "-" : vertical ? "|" : "+" }
        if horizontal { return "─" }
        if vertical { return "│" }
        switch directions {
        case [.right, .down]: return "┌"
        case [.left, .down]: return "┐"
        case [.right, .up]: return "└"
        case [.left, .up]: return "┘"
        case [.left, .right, .down]: return "┬"
        case [.left, .right, .up]: return "┴"
        case [.up, .down, .right]: return "├"
        case [.up, .down, .left]: return "┤"
        default: return "┼"
        }
    }
}
