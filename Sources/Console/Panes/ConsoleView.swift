import Foundation

/// What the header shows: where defpi is connected and how healthy each part is.
public struct HeaderInfo: Sendable, Equatable {
    public var cluster: String
    public var store: String
    public var user: String
    /// nil when healthy, else the problem.
    public var dockerProblem: String?
    public var version: String

    public init(cluster: String, store: String, user: String, dockerProblem: String? = nil, version: String) {
        self.cluster = cluster
        self.store = store
        self.user = user
        self.dockerProblem = dockerProblem
        self.version = version
    }
}

/// The whole console screen: header, panes (tiled when the terminal is wide, one at a time
/// with a switcher when narrow, or one zoomed), a banner for problems and a status line with
/// the keys that apply now.
public struct ConsoleView: Sendable {
    public var header: HeaderInfo
    public var panes: [Pane] = [.nodes(), .processes(), .graph(), .queue()]
    public var focus = 0
    public var zoomed = false
    public var border: BorderStyle = .rounded

    /// Terminals at least this wide and tall show the four panes tiled.
    public static let tiledMinimum = (width: 160, height: 40)

    public init(header: HeaderInfo) { self.header = header }

    public var focusedPane: Pane.Kind { panes[focus].kind }

    public mutating func pane(_ kind: Pane.Kind, _ update: (inout Pane) -> Void) {
        guard let index = panes.firstIndex(where: { $0.kind == kind }) else { return }
        update(&panes[index])
    }

    public mutating func focusNext(by step: Int = 1) {
        focus = (focus + step + panes.count) % panes.count
    }

    public mutating func render(width: Int, height: Int) -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        guard width >= 20, height >= 6 else {
            grid.write("defpi: enlarge the terminal", x: 0, y: 0, style: CellStyle(.warning))
            return grid
        }
        renderHeader(into: &grid)
        var top = 2
        if let problem = header.dockerProblem {
            grid.fill(Rect(x: 0, y: top, width: width, height: 1), style: CellStyle(.banner, reverse: true))
            grid.write(" ⚠ \(problem)", x: 0, y: top, style: CellStyle(.banner, reverse: true))
            top += 1
        }
        let area = Rect(x: 0, y: top, width: width, height: height - top - 1)
        let tiled = !zoomed && width >= Self.tiledMinimum.width && height >= Self.tiledMinimum.height
        if tiled {
            let halfWidth = area.width / 2
            let halfHeight = area.height / 2
            let rects = [
                Rect(x: 0, y: area.y, width: halfWidth, height: halfHeight),
                Rect(x: halfWidth, y: area.y, width: area.width - halfWidth, height: halfHeight),
                Rect(x: 0, y: area.y + halfHeight, width: halfWidth, height: area.height - halfHeight),
                Rect(x: halfWidth, y: area.y + halfHeight, width: area.width - halfWidth, height: area.height - halfHeight),
            ]
            for index in panes.indices { renderPane(index, into: &grid, rects[index]) }
        } else {
            renderSwitcher(into: &grid, y: area.y)
            renderPane(focus, into: &grid, Rect(x: 0, y: area.y + 1, width: area.width, height: area.height - 1))
        }
        renderStatusLine(into: &grid, tiled: tiled)
        return grid
    }

    private func renderHeader(into grid: inout CellGrid) {
        let docker = header.dockerProblem == nil ? "● docker" : "✖ docker"
        var x = grid.write(" defpi \(header.version) ", x: 0, y: 0, style: CellStyle(.header, bold: true, reverse: true))
        x += grid.write("  cluster ", x: x, y: 0, style: CellStyle(.dim))
        x += grid.write(header.cluster, x: x, y: 0, style: CellStyle(.header))
        x += grid.write("  store ", x: x, y: 0, style: CellStyle(.dim))
        x += grid.write(header.store, x: x, y: 0, style: CellStyle(.header))
        x += grid.write("  user ", x: x, y: 0, style: CellStyle(.dim))
        x += grid.write(header.user, x: x, y: 0, style: CellStyle(.header))
        let health = "  " + docker
        if x + TerminalText.displayWidth(health) <= grid.width {
            grid.write(health, x: grid.width - TerminalText.displayWidth(health), y: 0,
                       style: CellStyle(header.dockerProblem == nil ? .ok : .error, bold: true))
        }
        let crumbs = "‹\(panes[focus].kind.rawValue)›" + (zoomed ? " ‹zoom›" : "")
        grid.write(crumbs, x: 1, y: 1, style: CellStyle(.crumb, bold: true))
    }

    private func renderSwitcher(into grid: inout CellGrid, y: Int) {
        var x = 1
        for (index, pane) in panes.enumerated() {
            let label = " \(index + 1) \(pane.kind.title) "
            let style = index == focus ? CellStyle(.selected, bold: true, reverse: true) : CellStyle(.dim)
            x += grid.write(label, x: x, y: y, style: style) + 1
        }
    }

    private mutating func renderPane(_ index: Int, into grid: inout CellGrid, _ rect: Rect) {
        let pane = panes[index]
        let focused = index == focus
        let count = pane.table.rows.count
        let framed = Frame(title: "\(pane.kind.title) [\(count)]", focused: focused, border: border)
            .render(into: &grid, rect)
        let inner = Rect(x: framed.x + 1, y: framed.y, width: framed.width - 2, height: framed.height)
        panes[index].table.render(into: &grid, inner, focused: focused)
        if count == 0, inner.height > 1 {
            grid.fill(Rect(x: inner.x, y: inner.y + 1, width: inner.width, height: 1))
            grid.write(pane.emptyText, x: inner.x, y: inner.y + 1, style: CellStyle(.dim), limit: inner.width)
        }
    }

    private func renderStatusLine(into grid: inout CellGrid, tiled: Bool) {
        var keys: [(String, String)] = [("tab", "next pane"), ("↑↓", "select"), ("z", zoomed ? "unzoom" : "zoom")]
        if !tiled { keys.insert(("1-4", "pane"), at: 1) }
        keys += [("q", "quit")]
        var x = 1
        let y = grid.height - 1
        for (key, action) in keys {
            let used = grid.write("<\(key)>", x: x, y: y, style: CellStyle(.key, bold: true))
            guard used > 0 else { break }
            x += used + 1
            x += grid.write(action, x: x, y: y, style: CellStyle(.dim)) + 2
        }
    }
}
