import Console
import Engine
import Foundation

/// A plain-text table for terminals: a header row and left-aligned columns sized by display
/// width (so wide characters line up), like `docker ps`.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func add(_ cells: String...) { rows.append(cells) }

    func render() -> String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in
            all.map { TerminalText.displayWidth($0[column]) }.max() ?? 0
        }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - TerminalText.displayWidth(cell) + 3)
            }.joined()
        }.joined(separator: "\n")
    }

    func print() { Swift.print(render()) }

    /// An audit trail, oldest first.
    static func audit(_ events: [AuditEvent]) -> Table {
        let time = ISO8601DateFormatter()
        var table = Table("TIME", "ACTOR", "EVENT", "DETAIL")
        for event in events { table.add(time.string(from: event.time), event.actor, event.action, event.detail) }
        return table
    }
}

/// Key-value lines for `show` verbs, keys aligned.
struct Details {
    var pairs: [(String, String)] = []

    mutating func add(_ key: String, _ value: String?) { pairs.append((key, value ?? "-")) }

    func print() {
        let width = pairs.map { $0.0.count }.max() ?? 0
        for (key, value) in pairs { Swift.print(key.padding(toLength: width + 2, withPad: " ", startingAt: 0) + value) }
    }
}
