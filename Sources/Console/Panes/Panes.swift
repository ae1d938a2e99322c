import Engine
import Foundation

/// A pane: a titled table of one kind of entity, fed by the Engine. Rows remember how they
/// changed at the last refresh (added / modified), which the theme colours.
public struct Pane: Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case nodes, processes, graph, queue, services, pools, users
        public var title: String {
            switch self {
            case .nodes: return "Nodes"
            case .processes: return "Processes"
            case .graph: return "Connections"
            case .queue: return "Pending changes"
            case .services: return "Services"
            case .pools: return "Pools"
            case .users: return "Users"
            }
        }

        /// The four panes tiled on wide terminals; the others show one at a time.
        public var isTiled: Bool { [.nodes, .processes, .graph, .queue].contains(self) }

        /// The digit keys that focus a pane: `1-7`.
        public static var digitKeys: String { "1-\(allCases.count)" }
    }

    public let kind: Kind
    public var table: TableView
    /// Shown instead of the table's "(none)" while the pane has nothing.
    public var emptyText: String
    /// Why the pane could not be loaded, shown while it is empty; cleared by the next load.
    public var problem: String?

    public init(kind: Kind, columns: [TableColumn], emptyText: String) {
        self.kind = kind
        self.table = TableView(columns: columns)
        self.emptyText = emptyText
    }

    /// Replaces the rows, marking those that are new or changed since the last refresh; rows
    /// that went away stay a moment, marked deleted, so the operator sees what disappeared.
    public mutating func refresh(_ rows: [TableRow], now: Date = Date()) {
        let previous = Dictionary(allRows.filter { $0.change != .deleted }.map { ($0.id, $0.cells) },
                                  uniquingKeysWith: { first, _ in first })
        var refreshed = rows.map { row in
            var marked = row
            if previous.isEmpty { return marked }
            switch previous[row.id] {
            case nil: marked.change = .added
            case let cells? where cells != row.cells: marked.change = .modified
            default: marked.change = .none
            }
            return marked
        }
        let present = Set(rows.map(\.id))
        var gone: [String: Date] = [:]
        for (index, row) in allRows.enumerated() where !present.contains(row.id) {
            let since = deletedAt[row.id] ?? now
            guard now.timeIntervalSince(since) < Self.deletedRowLifetime else { continue }
            gone[row.id] = since
            var ghost = row
            ghost.change = .deleted
            refreshed.insert(ghost, at: min(index, refreshed.count))
        }
        deletedAt = gone
        allRows = refreshed
        problem = nil
        applyFilter()
    }

    /// How long a deleted row stays on screen.
    static let deletedRowLifetime: TimeInterval = 3

    /// Drops the rows marked deleted longer than `deletedRowLifetime` ago without waiting for the
    /// next refresh, which may not come for a long time; returns whether any went.
    public mutating func expireDeletedRows(now: Date = Date()) -> Bool {
        let expired = Set(deletedAt.filter { now.timeIntervalSince($0.value) >= Self.deletedRowLifetime }.keys)
        guard !expired.isEmpty else { return false }
        allRows.removeAll { $0.change == .deleted && expired.contains($0.id) }
        deletedAt = deletedAt.filter { !expired.contains($0.key) }
        applyFilter()
        return true
    }
    private var deletedAt: [String: Date] = [:]

    /// Every row, before the filter.
    public private(set) var allRows: [TableRow] = []

    /// The `/` filter of this pane; nil shows every row.
    public var filter: RowFilter? {
        didSet { applyFilter() }
    }

    /// The column rows are sorted by (numbers and versions in natural order), if any.
    public var sort: (column: Int, ascending: Bool)? {
        didSet { applyFilter() }
    }

    /// Rows the operator marked for a bulk action (by row id).
    public var marked: Set<String> = [] {
        didSet { table.marked = marked }
    }

    /// Sorts by the next column (`s`), or flips the direction of the current one (`S`).
    public mutating func cycleSort(reverse: Bool) {
        if reverse, let current = sort {
            sort = (current.column, !current.ascending)
        } else {
            let next = sort.map { $0.column + 1 } ?? 0
            sort = next < table.columns.count ? (next, true) : nil
        }
    }

    /// Marks or unmarks the selected row and moves to the next one.
    public mutating func toggleMark() {
        guard let row = table.selectedRow else { return }
        if marked.contains(row.id) { marked.remove(row.id) } else { marked.insert(row.id) }
        table.moveSelection(by: 1)
    }

    private mutating func applyFilter() {
        var rows = filter.map { filter in allRows.filter(filter.matches) } ?? allRows
        if let sort {
            rows.sort { left, right in
                let a = sort.column < left.cells.count ? left.cells[sort.column] : ""
                let b = sort.column < right.cells.count ? right.cells[sort.column] : ""
                let order = a.localizedStandardCompare(b)
                return order == .orderedSame ? left.id < right.id : (order == .orderedAscending) == sort.ascending
            }
        }
        marked.formIntersection(allRows.map(\.id))
        table.sortIndicator = sort
        table.setRows(rows)
    }

    static func nodes() -> Pane {
        Pane(kind: .nodes, columns: [
            TableColumn("NAME", minWidth: 6, weight: 2), TableColumn("KIND", minWidth: 7),
            TableColumn("POOL/OWNER", minWidth: 6, weight: 1), TableColumn("STATUS", minWidth: 7),
            TableColumn("ARCH", minWidth: 6), TableColumn("AVAIL", minWidth: 6), TableColumn("ROLE", minWidth: 7),
            TableColumn("PROCS", minWidth: 5), TableColumn("HOSTNAME", minWidth: 6, weight: 1),
            TableColumn("HOST PATHS", minWidth: 10, weight: 1),
        ], emptyText: "no nodes: is Docker reachable?")
    }

    static func processes() -> Pane {
        Pane(kind: .processes, columns: [
            TableColumn("NAME", minWidth: 6, weight: 2), TableColumn("SERVICE", minWidth: 8, weight: 2),
            TableColumn("NODE", minWidth: 6, weight: 1), TableColumn("STATE", minWidth: 8),
            TableColumn("OWNER", minWidth: 6, weight: 1), TableColumn("AGE", minWidth: 4),
        ], emptyText: "no processes yet")
    }

    static func graph() -> Pane {
        Pane(kind: .graph, columns: [
            TableColumn("PROCESS", minWidth: 6, weight: 2), TableColumn("INTERFACE", minWidth: 9, weight: 1),
            TableColumn("PEER", minWidth: 6, weight: 2), TableColumn("PEER INTERFACE", minWidth: 9, weight: 1),
            TableColumn("VERSION", minWidth: 7), TableColumn("PORT", minWidth: 4), TableColumn("STATE", minWidth: 9),
        ], emptyText: "no processes yet")
    }

    static func services() -> Pane {
        Pane(kind: .services, columns: [
            TableColumn("ID", minWidth: 6, weight: 1), TableColumn("NAME", minWidth: 6, weight: 1),
            TableColumn("VERSION", minWidth: 7), TableColumn("VERSIONS", minWidth: 8), TableColumn("ARCH", minWidth: 6),
            TableColumn("INTERFACES", minWidth: 10, weight: 2), TableColumn("PROBLEM", minWidth: 8, weight: 2),
        ], emptyText: "no services in the registry (defpi service publish adds one)")
    }

    static func pools() -> Pane {
        Pane(kind: .pools, columns: [
            TableColumn("NAME", minWidth: 6, weight: 1), TableColumn("NODES", minWidth: 5), TableColumn("READY", minWidth: 5),
            TableColumn("HOST PATHS", minWidth: 10, weight: 1), TableColumn("ID", minWidth: 8),
        ], emptyText: "no pools: n creates one")
    }

    static func users() -> Pane {
        Pane(kind: .users, columns: [
            TableColumn("USERNAME", minWidth: 8, weight: 1), TableColumn("ROLE", minWidth: 5), TableColumn("EMAIL", minWidth: 6, weight: 1),
            TableColumn("PROCESSES", minWidth: 9), TableColumn("QUOTA", minWidth: 5, weight: 1), TableColumn("PRIVATE NODES", minWidth: 13),
            TableColumn("ID", minWidth: 8),
        ], emptyText: "no users: n adds one")
    }

    static func queue() -> Pane {
        Pane(kind: .queue, columns: [
            TableColumn("KIND", minWidth: 6), TableColumn("TARGET", minWidth: 10, weight: 3),
            TableColumn("STATE", minWidth: 8), TableColumn("TRIES", minWidth: 5), TableColumn("NEXT TRY", minWidth: 8),
            TableColumn("LAST ERROR", minWidth: 10, weight: 2),
        ], emptyText: "the queue is empty")
    }
}

/// Turns Engine entities into pane rows. `now` is passed in so tests render fixed times.
public enum RowRenderer {
    public static func nodeRows(_ nodes: [Node], pools: [NodePool], users: [User], processCounts: [String: Int] = [:])
        -> [TableRow]
    {
        let poolNames = Dictionary(pools.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let userNames = Dictionary(users.map { ($0.id, $0.username) }, uniquingKeysWith: { first, _ in first })
        return nodes.map { node in
            let placement = node.nodePoolId.map { poolNames[$0] ?? $0 } ?? node.userId.map { userNames[$0] ?? $0 } ?? "-"
            return TableRow(
                id: node.id,
                cells: [node.name, node.kind.rawValue.lowercased(), placement, node.status.rawValue.lowercased(),
                        node.architecture.rawValue.lowercased(), node.availability.rawValue.lowercased(),
                        node.role.rawValue.lowercased(), "\(processCounts[node.id] ?? 0)", node.hostname,
                        HostPathGrant.list(node.kind == .private ? node.hostPaths : nil) ?? "-"],
                cellRoles: [1: node.kind == .unidentified ? .warning : .text, 3: node.status.role])
        }
    }

    public static func serviceRows(_ catalog: ServiceCatalog) -> [TableRow] {
        catalog.entries.compactMap { entry in
            guard let current = entry.current else { return nil }
            let interfaces = current.interfaces.map { interface in
                "\(interface.name)\(interface.allowMultiple ? "*" : "")"
            }.joined(separator: ", ")
            return TableRow(
                id: entry.id,
                cells: [entry.id, current.name, current.version, "\(entry.versions.count)",
                        current.architectures.map { $0.rawValue.lowercased() }.joined(separator: ","),
                        interfaces.isEmpty ? "-" : interfaces, current.problem ?? "-"],
                cellRoles: current.problem == nil ? [:] : [6: .warning])
        }
    }

    public static func poolRows(_ pools: [NodePool], nodes: [Node]) -> [TableRow] {
        pools.map { pool in
            let members = nodes.filter { $0.nodePoolId == pool.id }
            let ready = members.filter { $0.status == .ready }.count
            return TableRow(id: pool.id, cells: [pool.name, "\(members.count)", "\(ready)", HostPathGrant.list(pool.hostPaths) ?? "-", pool.id],
                            cellRoles: [2: ready == members.count ? .ok : .warning])
        }
    }

    /// Users with what they own: an admin's role stands out.
    public static func userRows(_ users: [User], processes: [ServiceProcess], nodes: [Node], quotas: [String: UserQuota] = [:])
        -> [TableRow]
    {
        users.map { user in
            let owned = processes.filter { $0.userId == user.id && $0.state != .terminated }.count
            let privateNodes = nodes.filter { $0.kind == .private && $0.userId == user.id }.count
            return TableRow(id: user.id, cells: [user.username, user.admin ? "admin" : "user", user.email ?? "-", "\(owned)",
                                                 quotas[user.id].map(quotaText) ?? "-", "\(privateNodes)", user.id],
                            cellRoles: user.admin ? [1: .warning] : [:])
        }
    }

    /// `3 processes · 1 GiB · 2 CPUs`, or `-` without limits.
    static func quotaText(_ quota: UserQuota) -> String {
        let parts = [quota.maxProcesses.map { "\($0) processes" }, quota.maxMemoryBytes.map(LimitText.bytes),
                     quota.maxNanoCPUs.map { "\(LimitText.cpus($0)) CPUs" }].compactMap { $0 }
        return parts.isEmpty ? "-" : parts.joined(separator: " · ")
    }

    public static func queueRows(_ changes: [PendingChange], now: Date) -> [TableRow] {
        changes.map { change in
            let next = change.state.isTerminal ? "-" : relative(change.runAt, now: now)
            return TableRow(
                id: change.id,
                cells: [change.type.rawValue, change.description, change.state.rawValue.lowercased(), "\(change.count)",
                        next, change.lastError ?? "-"],
                cellRoles: [2: change.state.role])
        }
    }

    /// An audit trail, one event per line, oldest first: UTC time, actor, action, detail.
    public static func auditLines(_ events: [AuditEvent]) -> [String] {
        let time = ISO8601DateFormatter()
        time.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        let actorWidth = events.map(\.actor.count).max() ?? 0
        let actionWidth = events.map(\.action.count).max() ?? 0
        return events.map { event in
            [time.string(from: event.time), event.actor.padding(toLength: actorWidth, withPad: " ", startingAt: 0),
             event.action.padding(toLength: actionWidth, withPad: " ", startingAt: 0), event.detail].joined(separator: "  ")
        }
    }

    /// `now`, `in 5s`, `3m ago`.
    public static func relative(_ date: Date, now: Date) -> String {
        let seconds = Int(date.timeIntervalSince(now).rounded())
        if abs(seconds) < 1 { return "now" }
        return seconds > 0 ? "in \(duration(seconds))" : "\(duration(seconds)) ago"
    }

    /// How long ago `date` was, like kubectl's AGE column: `42s`, `5m`, `3h`, `2d`.
    public static func age(_ date: Date, now: Date) -> String {
        duration(Int(now.timeIntervalSince(date).rounded()))
    }

    private static func duration(_ seconds: Int) -> String {
        let magnitude = abs(seconds)
        return magnitude < 60 ? "\(magnitude)s" : magnitude < 3600 ? "\(magnitude / 60)m"
            : magnitude < 86_400 ? "\(magnitude / 3600)h" : "\(magnitude / 86_400)d"
    }
}

extension NodeStatus {
    var role: ScreenRole {
        switch self {
        case .ready: return .ok
        case .down, .missing, .disconnected: return .error
        case .unknown: return .warning
        }
    }
}

extension PendingChangeState {
    var role: ScreenRole {
        switch self {
        case .finished: return .ok
        case .failedPermanently: return .error
        case .failedTemporary: return .warning
        case .new, .running: return .text
        case .cancelled: return .dim
        }
    }
}
