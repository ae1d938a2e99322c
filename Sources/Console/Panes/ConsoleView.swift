import Engine
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
    public var panes: [Pane] = [.nodes(), .processes(), .graph(), .queue(), .services(), .pools()]
    /// Refuse every action: for watching a production cluster without touching it.
    public var readOnly = false
    public var keyMap = KeyMap.standard
    public var focus = 0
    public var zoomed = false
    public var border: BorderStyle = .rounded {
        didSet { laidOutPage = nil }
    }
    /// The line being typed, if any (command, filter, or an action's argument).
    public var prompt: Prompt?
    public var showHelp = false
    /// A message for the status line: the outcome of the last action.
    public var flash: Flash?
    /// The page opened over the panes (`enter`): a service's versions and interfaces, or a
    /// process's neighbourhood; `esc` closes it.
    public var detail: Detail?
    /// How far the open page is scrolled.
    public var detailOffset = (x: 0, y: 0)
    /// The processes and connections, for the neighbourhood drawing.
    public var topology = Topology.empty {
        didSet { laidOutPage = nil }
    }
    /// The registry's catalog, for a service's page.
    public var catalog: ServiceCatalog? {
        didSet { laidOutPage = nil }
    }
    /// The open page as last laid out: kept until the page, its data or the border changes, so
    /// scrolling and key presses do not lay it out again.
    private var laidOutPage: (detail: Detail, page: CellGrid)?
    /// Where the panes and the switcher's labels were drawn last, for the mouse.
    private var hitAreas: [(pane: Int, rect: Rect)] = []

    /// A page opened from a row.
    public enum Detail: Equatable, Sendable {
        case service(id: String)
        case neighbourhood(processId: String)
    }

    /// A status-line message; errors in the error colour.
    public struct Flash: Equatable, Sendable {
        public var text: String
        public var isError: Bool
        public init(_ text: String, isError: Bool = false) {
            self.text = text
            self.isError = isError
        }
    }

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

    // MARK: Keys

    /// Applies a key to the view; returns what the app must do, if anything.
    public mutating func handle(_ key: Key) -> ConsoleEffect? {
        if prompt != nil { return handlePrompt(key) }
        let action = keyMap.action(for: key)
        if showHelp {
            if action == .back || action == .help || action == .quit { showHelp = false }
            return nil
        }
        if case .mouse(let event) = key { return handle(event) }
        if case .character(let digit) = key, ("1"..."6").contains(digit) {
            focus = Int(String(digit))! - 1
            detail = nil
            return nil
        }
        guard let action, action.panes?.contains(focusedPane) ?? true else { return nil }
        if detail != nil, let scroll = detailScroll(for: action) {
            detailOffset = (max(0, detailOffset.x + scroll.x), max(0, detailOffset.y + scroll.y))
            return nil
        }
        if action.isChange && readOnly {
            flash = Flash("this console is read-only (--read-only); use a console without it to change anything", isError: true)
            return nil
        }
        let table = \ConsoleView.panes[focus].table
        switch action {
        case .quit: return .quit
        case .command: prompt = Prompt(purpose: .command, label: ":", text: "")
        case .filter: prompt = Prompt(purpose: .filter, label: "/", text: panes[focus].filter?.text ?? "")
        case .help: showHelp = true
        case .nextPane: focusNext()
        case .previousPane: focusNext(by: -1)
        case .down: self[keyPath: table].moveSelection(by: 1)
        case .up: self[keyPath: table].moveSelection(by: -1)
        case .pageDown: self[keyPath: table].moveSelection(by: 20)
        case .pageUp: self[keyPath: table].moveSelection(by: -20)
        case .first: self[keyPath: table].selectFirst()
        case .last: self[keyPath: table].selectLast()
        case .zoom: zoomed.toggle()
        case .open: open()
        case .sort: panes[focus].cycleSort(reverse: false)
        case .reverseSort: panes[focus].cycleSort(reverse: true)
        case .mark: panes[focus].toggleMark()
        case .back:
            if detail != nil { detail = nil } else if zoomed { zoomed = false } else { panes[focus].filter = nil }
        case .classify, .rename, .remove, .create: startAction(action)
        }
        return nil
    }

    /// How a key scrolls an open page: lines, pages, to the top; sideways with the pane keys.
    private func detailScroll(for action: ConsoleAction) -> (x: Int, y: Int)? {
        switch action {
        case .down: return (0, 1)
        case .up: return (0, -1)
        case .pageDown: return (0, 20)
        case .pageUp: return (0, -20)
        case .first: return (-detailOffset.x, -detailOffset.y)
        case .last: return (0, 1_000_000)
        case .nextPane: return (8, 0)
        case .previousPane: return (-8, 0)
        default: return nil
        }
    }

    /// Opens the page of the selected row: a service's, or a process's neighbourhood.
    private mutating func open() {
        guard let row = panes[focus].table.selectedRow, row.change != .deleted else { return }
        switch focusedPane {
        case .services: detail = .service(id: row.id)
        case .processes, .graph: detail = .neighbourhood(processId: RowRenderer.processId(ofRow: row.id))
        default: return
        }
        detailOffset = (0, 0)
    }

    /// A click focuses a pane and selects the row under it (a double click opens it); the wheel
    /// moves the selection or scrolls the open page.
    private mutating func handle(_ event: MouseEvent) -> ConsoleEffect? {
        switch event.kind {
        case .wheelUp, .wheelDown:
            let step = event.kind == .wheelUp ? -3 : 3
            if detail != nil {
                detailOffset.y = max(0, detailOffset.y + step)
            } else {
                panes[focus].table.moveSelection(by: step)
            }
        case .click, .doubleClick:
            guard let hit = hitAreas.first(where: { $0.rect.contains(x: event.x, y: event.y) }) else { return nil }
            if hit.pane != focus { detail = nil }
            focus = hit.pane
            guard detail == nil else { return nil }
            // Rows start below the frame's top border and the table's header.
            panes[focus].table.select(line: event.y - hit.rect.y - 2)
            if event.kind == .doubleClick { open() }
        }
        return nil
    }

    /// Opens the prompt of an action on the nodes or pools pane (creating needs no selected row).
    private mutating func startAction(_ action: ConsoleAction) {
        if action == .create {
            prompt = Prompt(purpose: .createPool, label: "new pool name: ", text: "")
            return
        }
        guard let row = panes[focus].table.selectedRow else { return }
        let name = row.cells.first ?? row.id
        // Marked rows, when there are any, are what c and d act on.
        let marked = panes[focus].allRows.filter { panes[focus].marked.contains($0.id) }.map(\.id)
        let targets = marked.isEmpty ? [row.id] : marked
        let what = marked.isEmpty ? name : "\(marked.count) marked nodes"
        switch (focusedPane, action) {
        case (.nodes, .classify):
            prompt = Prompt(purpose: .classify(nodeIds: targets), label: "classify \(what) as (pool NAME | @USER): ", text: "")
        case (.nodes, .rename): prompt = Prompt(purpose: .rename(nodeId: row.id), label: "rename \(name) to: ", text: name)
        case (.nodes, .remove): prompt = Prompt(purpose: .declassify(nodeIds: targets), label: "declassify \(what)? (y/n) ", text: "")
        case (.pools, .rename): prompt = Prompt(purpose: .renamePool(poolId: row.id), label: "rename pool \(name) to: ", text: name)
        case (.pools, .remove): prompt = Prompt(purpose: .deletePool(poolId: row.id), label: "delete pool \(name)? (y/n) ", text: "")
        default: break
        }
    }

    private mutating func handlePrompt(_ key: Key) -> ConsoleEffect? {
        guard var current = prompt else { return nil }
        switch key {
        case .escape:
            if current.purpose == .filter { panes[focus].filter = nil }
            prompt = nil
            return nil
        case .backspace:
            if !current.text.isEmpty { current.text.removeLast() }
        case .character(let character):
            if case .declassify(let nodeIds) = current.purpose {
                prompt = nil
                guard character == "y" || character == "Y" else { return nil }
                panes[focus].marked = []
                return .declassify(nodeIds: nodeIds)
            }
            if case .deletePool(let poolId) = current.purpose {
                prompt = nil
                return character == "y" || character == "Y" ? .deletePool(poolId: poolId) : nil
            }
            current.text.append(character)
        case .enter:
            prompt = nil
            return submit(current)
        default:
            return nil
        }
        prompt = current
        if current.purpose == .filter { panes[focus].filter = current.text.isEmpty ? nil : RowFilter(current.text) }
        return nil
    }

    private mutating func submit(_ prompt: Prompt) -> ConsoleEffect? {
        let text = prompt.text.trimmingCharacters(in: .whitespaces)
        switch prompt.purpose {
        case .filter:
            return nil
        case .command:
            let words = text.split(separator: " ").map(String.init)
            guard let verb = words.first?.lowercased() else { return nil }
            if let kind = KeyMap.paneAliases[verb], let index = panes.firstIndex(where: { $0.kind == kind }) {
                focus = index
                if words.count > 1 { panes[index].filter = RowFilter(words.dropFirst().joined(separator: " ")) }
                return nil
            }
            switch verb {
            case "q", "quit": return .quit
            case "theme" where words.count == 2: return .theme(words[1])
            case "pool" where words.count >= 2:
                guard !readOnly else {
                    flash = Flash("this console is read-only (--read-only)", isError: true)
                    return nil
                }
                return .createPool(words.dropFirst().joined(separator: " "))
            default:
                flash = Flash("unknown command :\(text); try :nodes, :processes, :graph, :queue, :services, :pools, :theme NAME, :pool NAME, :quit", isError: true)
                return nil
            }
        case .classify(let nodeIds):
            guard !text.isEmpty else { return nil }
            panes[focus].marked = []
            if text.hasPrefix("@") { return .classifyPrivate(nodeIds: nodeIds, owner: String(text.dropFirst())) }
            let pool = text.hasPrefix("pool ") ? String(text.dropFirst(5)).trimmingCharacters(in: .whitespaces) : text
            return .classifyPublic(nodeIds: nodeIds, pool: pool)
        case .rename(let nodeId):
            return text.isEmpty ? nil : .rename(nodeId: nodeId, name: text)
        case .renamePool(let poolId):
            return text.isEmpty ? nil : .renamePool(poolId: poolId, name: text)
        case .declassify, .deletePool:
            return nil
        case .createPool:
            return text.isEmpty ? nil : .createPool(text)
        }
    }

    // MARK: Rendering

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
        hitAreas = []
        if let detail {
            renderDetail(detail, into: &grid, area)
            renderStatusLine(into: &grid, tiled: false)
            if showHelp { renderHelp(into: &grid) }
            return grid
        }
        let tiled = !zoomed && panes[focus].kind.isTiled && width >= Self.tiledMinimum.width
            && height >= Self.tiledMinimum.height
        if tiled {
            let halfWidth = area.width / 2
            let halfHeight = area.height / 2
            let rects = [
                Rect(x: 0, y: area.y, width: halfWidth, height: halfHeight),
                Rect(x: halfWidth, y: area.y, width: area.width - halfWidth, height: halfHeight),
                Rect(x: 0, y: area.y + halfHeight, width: halfWidth, height: area.height - halfHeight),
                Rect(x: halfWidth, y: area.y + halfHeight, width: area.width - halfWidth, height: area.height - halfHeight),
            ]
            for (index, rect) in zip(panes.indices.filter { panes[$0].kind.isTiled }, rects) {
                renderPane(index, into: &grid, rect)
            }
        } else {
            renderSwitcher(into: &grid, y: area.y)
            renderPane(focus, into: &grid, Rect(x: 0, y: area.y + 1, width: area.width, height: area.height - 1))
        }
        renderStatusLine(into: &grid, tiled: tiled)
        if showHelp { renderHelp(into: &grid) }
        return grid
    }

    /// An open page, scrolled, over the whole pane area.
    private mutating func renderDetail(_ detail: Detail, into grid: inout CellGrid, _ area: Rect) {
        let title: String
        switch detail {
        case .service(let id): title = "Service \(id): versions, interfaces, compatibility"
        case .neighbourhood(let processId): title = "Neighbourhood of \(topology.processName(processId))"
        }
        let page = laidOutPage.flatMap { $0.detail == detail ? $0.page : nil } ?? layOutPage(detail)
        laidOutPage = (detail, page)
        let inner = Frame(title: title, focused: true, border: border).render(into: &grid, area)
        let view = Rect(x: inner.x + 1, y: inner.y, width: inner.width - 1, height: inner.height)
        detailOffset = (min(detailOffset.x, max(0, page.width - view.width)),
                        min(detailOffset.y, max(0, page.height - view.height)))
        grid.copy(page, from: (detailOffset.x, detailOffset.y), into: view)
    }

    private func layOutPage(_ detail: Detail) -> CellGrid {
        switch detail {
        case .service(let id):
            guard let catalog, let entry = catalog.entry(id) else {
                return Self.message("\(id) is no longer in the registry's catalog")
            }
            return ServiceSheet.render(entry, catalog: catalog)
        case .neighbourhood(let processId):
            let drawing = NeighbourhoodDrawing(center: processId, topology: topology)
            return drawing.isEmpty ? Self.message("\(topology.processName(processId)) no longer exists")
                : drawing.render(border: border)
        }
    }

    private static func message(_ text: String) -> CellGrid {
        var grid = CellGrid(width: TerminalText.displayWidth(text), height: 1)
        grid.write(text, x: 0, y: 0, style: CellStyle(.dim))
        return grid
    }

    /// The `?` overlay: the key map of the focused pane, in two columns when one does not fit.
    private func renderHelp(into grid: inout CellGrid) {
        let bindings = keyMap.bindings(for: panes[focus].kind)
        let columns = bindings.count + 4 > grid.height - 4 ? 2 : 1
        let perColumn = (bindings.count + columns - 1) / columns
        let width = min(grid.width - 4, 34 * columns + 2)
        let height = min(grid.height - 4, perColumn + 3)
        let rect = Rect(x: (grid.width - width) / 2, y: (grid.height - height) / 2, width: width, height: height)
        grid.fill(rect)
        let inner = Frame(title: "Help: \(panes[focus].kind.title)", focused: true, border: border).render(into: &grid, rect)
        let columnWidth = inner.width / columns
        for (index, binding) in bindings.enumerated() {
            let line = index % perColumn
            guard line < inner.height - 1 else { continue }
            let x = inner.x + 1 + (index / perColumn) * columnWidth
            grid.write(binding.key, x: x, y: inner.y + line, style: CellStyle(.key, bold: true), limit: 11)
            grid.write(binding.help, x: x + 12, y: inner.y + line, limit: columnWidth - 13)
        }
        grid.write("esc or ? closes", x: inner.x + 1, y: inner.y + inner.height - 1, style: CellStyle(.dim))
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
        let filter = panes[focus].filter.map { " ‹/\($0.text)›" } ?? ""
        let page: String
        switch detail {
        case .service(let id)?: page = " ‹\(id)›"
        case .neighbourhood(let processId)?: page = " ‹\(topology.processName(processId))›"
        case nil: page = ""
        }
        let crumbs = "‹\(panes[focus].kind.rawValue)›" + filter + page + (zoomed ? " ‹zoom›" : "") + (readOnly ? " ‹read-only›" : "")
        grid.write(crumbs, x: 1, y: 1, style: CellStyle(.crumb, bold: true))
    }

    private mutating func renderSwitcher(into grid: inout CellGrid, y: Int) {
        var x = 1
        for (index, pane) in panes.enumerated() {
            let label = " \(index + 1) \(pane.kind.title) "
            let style = index == focus ? CellStyle(.selected, bold: true, reverse: true) : CellStyle(.dim)
            let used = grid.write(label, x: x, y: y, style: style)
            hitAreas.append((index, Rect(x: x, y: y, width: used, height: 1)))
            x += used + 1
        }
    }

    private mutating func renderPane(_ index: Int, into grid: inout CellGrid, _ rect: Rect) {
        let pane = panes[index]
        let focused = index == focus
        let count = pane.table.rows.count
        let filtered = pane.filter.map { " </\($0.text)>" } ?? ""
        let marks = pane.marked.isEmpty ? "" : ", \(pane.marked.count) marked"
        let framed = Frame(title: "\(pane.kind.title) [\(count)\(marks)]\(filtered)", focused: focused, border: border)
            .render(into: &grid, rect)
        hitAreas.append((index, rect))
        let inner = Rect(x: framed.x + 1, y: framed.y, width: framed.width - 2, height: framed.height)
        panes[index].table.render(into: &grid, inner, focused: focused)
        if count == 0, inner.height > 1 {
            grid.fill(Rect(x: inner.x, y: inner.y + 1, width: inner.width, height: 1))
            grid.write(pane.problem ?? pane.emptyText, x: inner.x, y: inner.y + 1,
                       style: CellStyle(pane.problem == nil ? .dim : .error), limit: inner.width)
        }
    }

    private func renderStatusLine(into grid: inout CellGrid, tiled: Bool) {
        let y = grid.height - 1
        if let prompt {
            let used = grid.write(prompt.label, x: 0, y: y, style: CellStyle(.key, bold: true))
            let typed = grid.write(prompt.text, x: used, y: y)
            grid.put("▏", x: used + typed, y: y, style: CellStyle(.key))
            return
        }
        if let flash {
            grid.write(" " + flash.text, x: 0, y: y, style: CellStyle(flash.isError ? .error : .ok, bold: flash.isError))
            return
        }
        var x = 1
        for binding in keyMap.bindings(for: panes[focus].kind) where !(tiled && binding.key == "1-6") {
            let used = grid.write("<\(binding.key)>", x: x, y: y, style: CellStyle(.key, bold: true))
            guard used > 0 else { break }
            x += used + 1
            x += grid.write(binding.help, x: x, y: y, style: CellStyle(.dim)) + 2
        }
    }
}
