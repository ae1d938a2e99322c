import Foundation

/// Drawing the console: header, breadcrumbs, the panes tiled or one at a time, an open page,
/// the help overlay and the status line.
extension ConsoleView {
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
            renderPicker(into: &grid)
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
        renderPicker(into: &grid)
        return grid
    }

    /// A wizard's picker, over everything else.
    private func renderPicker(into grid: inout CellGrid) {
        guard let prompt, !prompt.choices.isEmpty else { return }
        Picker(title: prompt.label, choices: prompt.choices, selection: prompt.selection, border: border).render(into: &grid)
    }

    /// An open page, scrolled, over the whole pane area.
    private mutating func renderDetail(_ detail: Detail, into grid: inout CellGrid, _ area: Rect) {
        let title: String
        switch detail {
        case .service(let id): title = "Service \(id): versions, interfaces, compatibility"
        case .neighbourhood(let processId): title = "Neighbourhood of \(topology.processName(processId))"
        case .logs(let processId): title = "Logs of \(topology.processName(processId)) (followed)"
        case .history(let processId): title = "Audit trail of \(topology.processName(processId))"
        }
        let page = laidOutPage.flatMap { $0.detail == detail ? $0.page : nil } ?? layOutPage(detail)
        laidOutPage = (detail, page)
        let inner = Frame(title: title, focused: true, border: border).render(into: &grid, area)
        let view = Rect(x: inner.x + 1, y: inner.y, width: inner.width - 1, height: inner.height)
        // A followed page at its last lines stays there as lines arrive.
        let following = detail.isLoaded && detailOffset.y >= max(0, page.height - view.height)
        detailOffset = (min(detailOffset.x, max(0, page.width - view.width)),
                        following ? Self.bottom : min(detailOffset.y, max(0, page.height - view.height)))
        let top = min(detailOffset.y, max(0, page.height - view.height))
        grid.copy(page, from: (detailOffset.x, top), into: view)
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
        case .logs, .history:
            guard let loaded = pageLines, loaded.detail == detail else { return Self.message("loading…") }
            if let problem = loaded.problem { return Self.message(problem, style: CellStyle(.error)) }
            guard !loaded.lines.isEmpty else {
                if case .logs = detail { return Self.message("no output yet") }
                return Self.message("nothing recorded yet")
            }
            var sheet = TextSheet()
            for line in loaded.lines { sheet.line((line, .plain)) }
            return sheet.render()
        }
    }

    private static func message(_ text: String, style: CellStyle = CellStyle(.dim)) -> CellGrid {
        var grid = CellGrid(width: TerminalText.displayWidth(text), height: 1)
        grid.write(text, x: 0, y: 0, style: style)
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
        // Who works the console comes first: it decides what the screen shows.
        x += grid.write("  user ", x: x, y: 0, style: CellStyle(.dim))
        x += grid.write(header.user, x: x, y: 0, style: CellStyle(.header))
        x += grid.write("  cluster ", x: x, y: 0, style: CellStyle(.dim))
        x += grid.write(header.cluster, x: x, y: 0, style: CellStyle(.header))
        x += grid.write("  store ", x: x, y: 0, style: CellStyle(.dim))
        x += grid.write(header.store, x: x, y: 0, style: CellStyle(.header))
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
        case .logs(let processId)?: page = " ‹\(topology.processName(processId))› ‹logs›"
        case .history(let processId)?: page = " ‹\(topology.processName(processId))› ‹audit›"
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
        if let prompt, prompt.choices.isEmpty {
            let used = grid.write(prompt.label, x: 0, y: y, style: CellStyle(.key, bold: true))
            let typed = grid.write(prompt.isSecret ? String(repeating: "*", count: prompt.text.count) : prompt.text, x: used, y: y)
            grid.put("▏", x: used + typed, y: y, style: CellStyle(.key))
            return
        }
        if let flash {
            grid.write(" " + flash.text, x: 0, y: y, style: CellStyle(flash.isError ? .error : .ok, bold: flash.isError))
            return
        }
        var x = 1
        for binding in keyMap.bindings(for: panes[focus].kind) where !(tiled && binding.key == Pane.Kind.digitKeys) {
            let used = grid.write("<\(binding.key)>", x: x, y: y, style: CellStyle(.key, bold: true))
            guard used > 0 else { break }
            x += used + 1
            x += grid.write(binding.help, x: x, y: y, style: CellStyle(.dim)) + 2
        }
    }
}
