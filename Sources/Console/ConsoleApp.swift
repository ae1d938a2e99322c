import Engine
import Foundation
import Synchronization

/// `defpi console`: the UI loop on a thread of its own (the only one that calls curses), fed
/// by a loader that reads the store whenever the Engine reports a change, coalesced per pane
/// every 100 ms.
public final class ConsoleApp: Sendable {
    private let engine: Engine
    private let theme: Theme
    private let useColors: Bool
    private let header: HeaderInfo
    private let themeDirectory: String
    private let readOnly: Bool
    private let keyMap: KeyMap
    private let inbox = Mutex(Inbox())
    private static let coalescing: Duration = .milliseconds(100)

    /// What the loader hands the UI loop: the newest rows per pane and the Docker problem.
    struct Inbox {
        var rows: [Pane.Kind: [TableRow]] = [:]
        /// Why a pane could not be loaded (the registry is down ...), shown in the empty pane.
        var problems: [Pane.Kind: String] = [:]
        var dockerProblem: String??
        var flash: ConsoleView.Flash?
        var theme: Theme?
    }

    /// `themeDirectory` is where `:theme NAME` looks.
    public init(engine: Engine, theme: Theme, themeDirectory: String, useColors: Bool, user: String,
                readOnly: Bool = false, keyMap: KeyMap = .standard) {
        self.readOnly = readOnly
        self.keyMap = keyMap
        self.engine = engine
        self.theme = theme
        self.themeDirectory = themeDirectory
        self.useColors = useColors
        header = HeaderInfo(cluster: engine.docker.endpoint.description, store: engine.store.location, user: user,
                            version: DefpiVersion.current)
    }

    /// Runs until the operator quits.
    public func run() async {
        let loader = Task { await self.load() }
        defer { loader.cancel() }
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
        var dirty = Set(Pane.Kind.allCases)
        let notifications = engine.notifications.subscribe()
        let pending = Mutex(Set<Pane.Kind>())
        let listener = Task {
            for await notification in notifications {
                switch notification {
                case .entity(let collection, _, _):
                    pending.withLock { $0.formUnion(Self.panes(for: collection)) }
                case .dockerConnection(let problem):
                    inbox.withLock { $0.dockerProblem = .some(problem) }
                }
            }
        }
        defer { listener.cancel() }
        var lastQueueLoad = Date.distantPast
        var lastFullLoad = Date()
        while !Task.isCancelled {
            dirty.formUnion(pending.withLock { taken in defer { taken.removeAll() }; return taken })
            // Relative times in the queue pane age even without changes.
            if Date().timeIntervalSince(lastQueueLoad) >= 1 { dirty.insert(.queue) }
            // Other engines (a verb, another console) change the store without telling this one.
            if Date().timeIntervalSince(lastFullLoad) >= 2 {
                dirty.formUnion(Pane.Kind.allCases)
                lastFullLoad = Date()
            }
            for kind in dirty {
                do {
                    let rows = try await rows(for: kind)
                    if kind == .queue { lastQueueLoad = Date() }
                    inbox.withLock { $0.rows[kind] = rows }
                } catch {
                    let message = (error as? UserFacingError)?.userMessage ?? "\(error)"
                    inbox.withLock { $0.problems[kind] = message }
                }
            }
            dirty.removeAll()
            try? await Task.sleep(for: Self.coalescing)
        }
    }

    private static func panes(for collection: EntityCollection) -> [Pane.Kind] {
        switch collection {
        case .node, .user: return [.nodes, .pools]
        case .nodePool: return [.nodes, .pools]
        case .process: return [.processes, .nodes]
        case .connection: return [.graph]
        case .pendingChange: return [.queue]
        case .auditEvent: return []
        }
    }

    private func rows(for kind: Pane.Kind) async throws -> [TableRow] {
        switch kind {
        case .nodes:
            return RowRenderer.nodeRows(try await engine.nodes.nodes(), pools: try await engine.nodes.pools(),
                                        users: try await engine.store.all(User.self))
        case .queue:
            let changes = try await engine.store.list(PendingChange.self, StoreQuery(
                sort: [StoreSort("created", ascending: false)], limit: 1000)).items
            return RowRenderer.queueRows(changes, now: Date())
        case .services:
            return RowRenderer.serviceRows(try await engine.services.catalog())
        case .pools:
            return RowRenderer.poolRows(try await engine.nodes.pools(), nodes: try await engine.nodes.nodes())
        case .processes, .graph:
            return []
        }
    }

    // MARK: The UI loop

    private func uiLoop() {
        var terminal = CursesTerminal(theme: theme, colors: useColors)
        defer { terminal.end() }
        var view = ConsoleView(header: header)
        view.border = theme.border
        view.readOnly = readOnly
        view.keyMap = keyMap
        var needsDraw = true
        var flashShown: Date?
        while true {
            if let key = terminal.readKey(timeout: 50) {
                if let effect = view.handle(key) {
                    if effect == .quit { return }
                    perform(effect)
                }
                needsDraw = true
            }
            let update = inbox.withLock { inbox in
                defer { inbox = Inbox() }
                return inbox
            }
            for (kind, rows) in update.rows {
                view.pane(kind) { $0.refresh(rows) }
                needsDraw = true
            }
            for (kind, problem) in update.problems {
                view.pane(kind) { $0.problem = problem }
                needsDraw = true
            }
            if let problem = update.dockerProblem {
                view.header.dockerProblem = problem
                needsDraw = true
            }
            if let flash = update.flash {
                view.flash = flash
                flashShown = Date()
                needsDraw = true
            }
            if let chosen = update.theme {
                terminal.end()
                terminal = CursesTerminal(theme: chosen, colors: useColors)
                view.border = chosen.border
                needsDraw = true
            }
            if let shown = flashShown, Date().timeIntervalSince(shown) > 5 {
                view.flash = nil
                flashShown = nil
                needsDraw = true
            }
            if needsDraw {
                let size = terminal.size
                terminal.draw(view.render(width: size.width, height: size.height))
                needsDraw = false
            }
        }
    }

    /// Queues one change per node; says what was queued.
    private static func each(_ nodes: [String], _ queue: (String) async throws -> PendingChange) async throws -> String {
        var queued: [PendingChange] = []
        for node in nodes { queued.append(try await queue(node)) }
        return queued.count == 1 ? "queued: \(queued[0].description)" : "queued \(queued.count) changes"
    }

    /// Carries out an operator's action on the Engine; the outcome shows in the status line.
    private func perform(_ effect: ConsoleEffect) {
        let engine = engine
        let caller = Caller.localOperator(name: header.user)
        Task {
            do {
                let outcome: String
                switch effect {
                case .quit: return
                case .classifyPublic(let nodes, let pool):
                    outcome = try await Self.each(nodes) { try await engine.nodes.classifyPublic($0, pool: pool, by: caller) }
                case .classifyPrivate(let nodes, let owner):
                    outcome = try await Self.each(nodes) { try await engine.nodes.classifyPrivate($0, owner: owner, by: caller) }
                case .rename(let node, let name):
                    outcome = "queued: " + (try await engine.nodes.rename(node, to: name, by: caller)).description
                case .declassify(let nodes):
                    outcome = try await Self.each(nodes) { try await engine.nodes.declassify($0, by: caller) }
                case .createPool(let name):
                    outcome = "created pool " + (try await engine.nodes.createPool(named: name, by: caller)).name
                case .renamePool(let pool, let name):
                    outcome = "renamed pool to " + (try await engine.nodes.renamePool(pool, to: name, by: caller)).name
                case .deletePool(let pool):
                    try await engine.nodes.deletePool(pool, by: caller)
                    outcome = "deleted the pool"
                case .theme(let name):
                    let chosen = try Theme.named(name, in: themeDirectory)
                    inbox.withLock { $0.theme = chosen }
                    outcome = "theme \(chosen.name)"
                }
                inbox.withLock { $0.flash = ConsoleView.Flash(outcome) }
            } catch {
                let message = (error as? UserFacingError)?.userMessage ?? "\(error)"
                inbox.withLock { $0.flash = ConsoleView.Flash(message, isError: true) }
            }
        }
    }
}
