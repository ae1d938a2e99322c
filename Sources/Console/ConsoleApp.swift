import CMalloc
import Engine
import Foundation
import Synchronization

/// How an operator set the console up: look, keys, and what it may do.
public struct ConsoleSettings: Sendable {
    public var theme: Theme
    /// Where `:theme NAME` looks.
    public var themeDirectory: String
    public var useColors: Bool
    /// Who works the console: the local operator (an admin), a signed-in user, or an admin
    /// viewing as a user. What is shown and allowed follows the Engine's rules for them.
    public var caller: Caller
    /// Refuse every action.
    public var readOnly: Bool
    public var keyMap: KeyMap
    /// Clicks select, the wheel scrolls; off by default, so the terminal's own selection works.
    public var mouse: Bool

    public init(theme: Theme, themeDirectory: String, useColors: Bool = true, caller: Caller, readOnly: Bool = false,
                keyMap: KeyMap = .standard, mouse: Bool = false) {
        self.theme = theme
        self.themeDirectory = themeDirectory
        self.useColors = useColors
        self.caller = caller
        self.readOnly = readOnly
        self.keyMap = keyMap
        self.mouse = mouse
    }
}

/// `defpi console`: the UI loop on a thread of its own (the only one that calls curses), fed
/// by a loader that reads the store whenever the Engine reports a change (changes within 20 ms
/// make one read), and by a catalog reader that never holds the panes up while the registry is slow.
public final class ConsoleApp: Sendable {
    private let engine: Engine
    private let settings: ConsoleSettings
    private let header: HeaderInfo
    private let inbox = Mutex(Inbox())
    private let latestCatalog = Mutex<ServiceCatalog?>(nil)
    /// The open page whose lines the app loads (logs, audit trail), as the UI loop last drew it.
    private let openPage = Mutex<ConsoleView.Detail?>(nil)
    /// How often the loader looks for changes: notifications arriving meanwhile make one load.
    private static let coalescing: Duration = .milliseconds(20)
    /// How long the UI loop waits for a key before it looks for new rows.
    private static let keyWait: Int32 = 20
    /// Panes fed from the processes, connections and nodes, loaded together.
    private static let topologyPanes: Set<Pane.Kind> = [.nodes, .pools, .processes, .graph, .users]

    /// What the loaders hand the UI loop: the newest rows per pane, the data of the open
    /// pages, and the Docker problem.
    struct Inbox {
        var rows: [Pane.Kind: [TableRow]] = [:]
        /// Why a pane could not be loaded (the registry is down ...), shown in the empty pane.
        var problems: [Pane.Kind: String] = [:]
        var topology: Topology?
        var catalog: ServiceCatalog?
        var dockerProblem: String??
        var flash: ConsoleView.Flash?
        /// The lines of the open logs or audit page.
        var pageLines: ConsoleView.PageLines?
        /// A wizard's next question, read from the Engine.
        var question: (asked: AskedAction, prompt: ActionPrompt)?
        var theme: Theme?
        /// The program is stopping (a signal): the UI loop ends as if the operator quit.
        var quit = false
    }

    public init(engine: Engine, settings: ConsoleSettings) {
        self.engine = engine
        self.settings = settings
        header = HeaderInfo(cluster: engine.settings.docker.description, store: engine.storeLocation,
                            user: settings.caller.name, version: DefpiVersion.current)
    }

    /// Ends `run()` as if the operator quit (the program was told to stop).
    public func quit() {
        inbox.withLock { $0.quit = true }
    }

    /// Runs until the operator quits, or `quit()` is called.
    public func run() async {
        let loader = Task { await self.load() }
        let catalogReader = Task { await self.readCatalog() }
        let pageLoader = Task { await self.loadPages() }
        defer {
            loader.cancel()
            catalogReader.cancel()
            pageLoader.cancel()
        }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                uiLoop()
                done.resume()
            }
            thread.name = "defpi.console"
            thread.start()
        }
    }

    // MARK: Loading

    private func load() async {
        var dirty = Set(Pane.Kind.allCases).subtracting([.services])
        var stale = TopologySnapshot.collections
        var snapshot = TopologySnapshot()
        let notifications = engine.notifications.subscribe()
        let pending = Mutex(Set<EntityCollection>())
        let listener = Task {
            for await notification in notifications {
                switch notification {
                case .entity(let collection, _, _):
                    pending.withLock { _ = $0.insert(collection) }
                case .dockerConnection(let problem):
                    inbox.withLock { $0.dockerProblem = .some(problem) }
                }
            }
        }
        defer { listener.cancel() }
        var lastQueueLoad = Date.distantPast
        var lastFullLoad = Date()
        var marker = try? await engine.storeChangeMarker()
        while !Task.isCancelled {
            let changed = pending.withLock { taken in defer { taken.removeAll() }; return taken }
            stale.formUnion(changed.intersection(TopologySnapshot.collections))
            if changed.contains(.pendingChange) { dirty.insert(.queue) }
            // Relative times in the queue pane age even without changes.
            if Date().timeIntervalSince(lastQueueLoad) >= 1 { dirty.insert(.queue) }
            // Other engines (a verb, another console) change the store without telling this one:
            // look every 2 s, and re-read when the store says it changed (or cannot say).
            if Date().timeIntervalSince(lastFullLoad) >= 2 {
                lastFullLoad = Date()
                let current = try? await engine.storeChangeMarker()
                if current == nil || current != marker { stale = TopologySnapshot.collections }
                marker = current
            }
            if !stale.isEmpty {
                await loadTopology(stale, into: &snapshot)
                stale.removeAll()
                // Hand the pages of the replaced rows back to the system: with 10,000 processes
                // a reload frees tens of megabytes that malloc would otherwise keep.
                malloc_trim(0)
            }
            if dirty.contains(.queue) {
                await loadQueue()
                lastQueueLoad = Date()
            }
            dirty.removeAll()
            try? await Task.sleep(for: Self.coalescing)
        }
    }

    /// Re-reads the `stale` collections, then rebuilds the topology panes from all of them, so
    /// the panes agree.
    private func loadTopology(_ stale: Set<EntityCollection>, into snapshot: inout TopologySnapshot) async {
        do {
            try await snapshot.refresh(stale, from: engine, as: settings.caller)
            let (topology, rows) = snapshot.rows(catalog: latestCatalog.withLock { $0 }, now: Date())
            inbox.withLock {
                $0.rows.merge(rows) { _, new in new }
                $0.topology = topology
            }
        } catch {
            report(error, for: Self.topologyPanes)
        }
    }

    private func loadQueue() async {
        do {
            let changes = try await engine.queue.changes(ChangeFilter(limit: 1000), by: settings.caller)
                .items
            let rows = RowRenderer.queueRows(changes, now: Date())
            inbox.withLock { $0.rows[.queue] = rows }
        } catch {
            report(error, for: [.queue])
        }
    }

    /// Reads the registry's catalog now and whenever its cache expires, on its own so a slow
    /// or unreachable registry never delays the other panes.
    private func readCatalog() async {
        var shown: Date?
        while !Task.isCancelled {
            do {
                let catalog = try await engine.services.catalog()
                if catalog.fetchedAt != shown {
                    shown = catalog.fetchedAt
                    latestCatalog.withLock { $0 = catalog }
                    let rows = RowRenderer.serviceRows(catalog)
                    inbox.withLock {
                        $0.rows[.services] = rows
                        $0.catalog = catalog
                    }
                }
            } catch {
                report(error, for: [.services])
            }
            try? await Task.sleep(for: .seconds(2))
        }
    }

    /// Loads the open logs or audit page at once, then again every 2 s while it stays open.
    private func loadPages() async {
        var loaded: (detail: ConsoleView.Detail, at: ContinuousClock.Instant)?
        while !Task.isCancelled {
            if let detail = openPage.withLock({ $0 }), loaded?.detail != detail || loaded!.at.duration(to: .now) >= .seconds(2) {
                loaded = (detail, .now)
                let lines = await pageLines(detail)
                inbox.withLock { $0.pageLines = lines }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The lines of a loaded page: a process's last 500 lines of output, or its audit trail.
    private func pageLines(_ detail: ConsoleView.Detail) async -> ConsoleView.PageLines {
        let caller = settings.caller
        do {
            switch detail {
            case .logs(let processId):
                let lines = Mutex<[String]>([])
                try await engine.processes.logs(processId, tail: 500, follow: false, by: caller) { line in
                    lines.withLock { $0.append((line.stream == .stderr ? "! " : "") + line.text) }
                }
                return ConsoleView.PageLines(detail: detail, lines: lines.withLock { $0 })
            case .history(let processId):
                let events = try await engine.processes.history(processId, by: caller)
                return ConsoleView.PageLines(detail: detail, lines: RowRenderer.auditLines(events))
            case .service, .neighbourhood:
                return ConsoleView.PageLines(detail: detail, lines: [])
            }
        } catch {
            let message = (error as? UserFacingError)?.userMessage ?? "\(error)"
            return ConsoleView.PageLines(detail: detail, lines: [], problem: message)
        }
    }

    private func report(_ error: any Error, for kinds: Set<Pane.Kind>) {
        let message = (error as? UserFacingError)?.userMessage ?? "\(error)"
        inbox.withLock { inbox in
            for kind in kinds { inbox.problems[kind] = message }
        }
    }

    // MARK: The UI loop

    private func uiLoop() {
        var terminal = CursesTerminal(theme: settings.theme, colors: settings.useColors, mouse: settings.mouse)
        defer { terminal.end() }
        var view = ConsoleView(header: header)
        view.border = settings.theme.border
        view.readOnly = settings.readOnly
        view.keyMap = settings.keyMap
        var needsDraw = true
        var flashShown: Date?
        while true {
            if let key = terminal.readKey(timeout: Self.keyWait) {
                switch view.handle(key) {
                case .quit?: return
                case .run(let action)?: perform(action)
                case .ask(let asked)?: ask(asked)
                case nil: break
                }
                needsDraw = true
            }
            let update = inbox.withLock { inbox in
                defer { inbox = Inbox(quit: inbox.quit) }
                return inbox
            }
            if update.quit { return }
            for (kind, rows) in update.rows {
                view.pane(kind) { $0.refresh(rows) }
                needsDraw = true
            }
            for (kind, problem) in update.problems {
                view.pane(kind) { $0.problem = problem }
                needsDraw = true
            }
            if let topology = update.topology {
                view.topology = topology
                needsDraw = true
            }
            if let catalog = update.catalog {
                view.catalog = catalog
                needsDraw = true
            }
            if let problem = update.dockerProblem {
                view.header.dockerProblem = problem
                needsDraw = true
            }
            if let page = update.pageLines, page.detail == view.detail {
                view.pageLines = page
                needsDraw = true
            }
            if let question = update.question {
                view.ask(question.asked, question.prompt)
                needsDraw = true
            }
            if let flash = update.flash {
                view.flash = flash
                flashShown = Date()
                needsDraw = true
            }
            if let chosen = update.theme {
                terminal.end()
                terminal = CursesTerminal(theme: chosen, colors: settings.useColors, mouse: settings.mouse)
                view.border = chosen.border
                needsDraw = true
            }
            if let shown = flashShown, Date().timeIntervalSince(shown) > 5 {
                view.flash = nil
                flashShown = nil
                needsDraw = true
            }
            for index in view.panes.indices where view.panes[index].expireDeletedRows() { needsDraw = true }
            openPage.withLock { $0 = view.detail.flatMap { $0.isLoaded ? $0 : nil } }
            if needsDraw {
                let size = terminal.size
                terminal.draw(view.render(width: size.width, height: size.height))
                needsDraw = false
            }
        }
    }

    /// What actions run with: the Engine, as the console's operator.
    private var actionContext: ActionContext {
        ActionContext(engine: engine, caller: settings.caller, themeDirectory: settings.themeDirectory,
                      useTheme: { [self] theme in inbox.withLock { $0.theme = theme } })
    }

    /// Carries out an operator's action on the Engine; the outcome shows in the status line.
    private func perform(_ action: any OperatorAction) {
        let context = actionContext
        Task { await self.report { try await action.perform(in: context) } }
    }

    /// Reads a wizard's next question from the Engine, or, once all are answered, carries the
    /// action out.
    private func ask(_ asked: AskedAction) {
        let context = actionContext
        Task {
            await self.report {
                if let question = try await asked.type.question(after: asked.answers, about: asked.target, in: context) {
                    self.inbox.withLock { $0.question = (asked, question) }
                    return nil
                }
                guard let action = asked.type.init(target: asked.target, answers: asked.answers) else { return nil }
                return try await action.perform(in: context)
            }
        }
    }

    /// Shows what `work` returns, or its error, in the status line.
    private func report(_ work: () async throws -> String?) async {
        do {
            if let outcome = try await work() { inbox.withLock { $0.flash = ConsoleView.Flash(outcome) } }
        } catch {
            let message = (error as? UserFacingError)?.userMessage ?? "\(error)"
            inbox.withLock { $0.flash = ConsoleView.Flash(message, isError: true) }
        }
    }
}
