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
    public var panes: [Pane] = [.nodes(), .processes(), .graph(), .queue(), .services(), .pools(), .users()]
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
    var laidOutPage: (detail: Detail, page: CellGrid)?
    /// Where the panes and the switcher's labels were drawn last, for the mouse.
    var hitAreas: [(pane: Int, rect: Rect)] = []

    /// What the app loaded for the open logs or audit page.
    public var pageLines: PageLines? {
        didSet { laidOutPage = nil }
    }

    /// A page opened from a row.
    public enum Detail: Equatable, Sendable {
        case service(id: String)
        case neighbourhood(processId: String)
        /// A process's recent output, followed while open.
        case logs(processId: String)
        /// A process's audit trail: who did what to it, and how its changes went.
        case history(processId: String)

        /// Whether the app loads the page's lines (and reloads them while it is open).
        public var isLoaded: Bool {
            switch self {
            case .logs, .history: return true
            case .service, .neighbourhood: return false
            }
        }
    }

    /// The lines of a loaded page, or why there are none.
    public struct PageLines: Equatable, Sendable {
        public var detail: Detail
        public var lines: [String]
        public var problem: String?

        public init(detail: Detail, lines: [String], problem: String? = nil) {
            self.detail = detail
            self.lines = lines
            self.problem = problem
        }
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
        let entry = keyMap.entry(for: key)
        if showHelp {
            let action = entry.flatMap(ConsoleAction.init(rawValue:))
            if action == .back || action == .help || action == .quit { showHelp = false }
            return nil
        }
        if case .mouse(let event) = key { return handle(event) }
        if case .character(let digit) = key, ("1"...Character("\(Pane.Kind.allCases.count)")).contains(digit) {
            focus = Int(String(digit))! - 1
            detail = nil
            return nil
        }
        guard let entry else { return nil }
        guard let action = ConsoleAction(rawValue: entry) else {
            return OperatorActions.started(by: entry, in: focusedPane).flatMap { start($0) }
        }
        guard action.panes?.contains(focusedPane) ?? true else { return nil }
        if detail != nil, let scroll = detailScroll(for: action) {
            detailOffset = (max(0, detailOffset.x + scroll.x), max(0, detailOffset.y + scroll.y))
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
        case .logs: openProcessPage(Detail.logs)
        case .history: openProcessPage(Detail.history)
        case .sort: panes[focus].cycleSort(reverse: false)
        case .reverseSort: panes[focus].cycleSort(reverse: true)
        case .mark: panes[focus].toggleMark()
        case .back:
            if detail != nil { detail = nil } else if zoomed { zoomed = false } else { panes[focus].filter = nil }
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

    /// Opens a loaded page of the selected process (its logs, its audit trail), at the newest lines.
    private mutating func openProcessPage(_ page: (String) -> Detail) {
        guard let row = panes[focus].table.selectedRow, row.change != .deleted else { return }
        detail = page(RowRenderer.processId(ofRow: row.id))
        pageLines = nil
        detailOffset = (0, Self.bottom)
    }

    /// A scroll offset past any page's end: the render clamps it to the last lines.
    static let bottom = 1_000_000

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
}
