import Engine

/// What a key or a command asks of the app: to quit, to carry out an operator's action, or to
/// get a wizard's next question from the Engine.
public enum ConsoleEffect: Sendable, Equatable {
    case quit
    case run(any OperatorAction)
    case ask(AskedAction)

    public static func == (left: ConsoleEffect, right: ConsoleEffect) -> Bool {
        switch (left, right) {
        case (.quit, .quit): return true
        case (.run(let one), .run(let other)): return one.isEqual(to: other)
        case (.ask(let one), .ask(let other)): return one == other
        default: return false
        }
    }
}

/// One key binding as help shows it: the keys, what they do, and in which pane (nil: everywhere).
public struct KeyBinding: Equatable, Sendable {
    public var key: String
    public var help: String
    public var pane: Pane.Kind?
}

/// What a key does to the view itself: move, sort, filter, open, quit ... (the operator's
/// actions on the Engine are `OperatorAction`s).
public enum ConsoleAction: String, CaseIterable, Sendable {
    case help, open, logs, history, mark, sort, reverseSort, command, filter
    case nextPane, previousPane, down, up, pageDown, pageUp, first, last, zoom, back, quit

    /// The panes the action applies to; nil: every pane.
    var panes: [Pane.Kind]? {
        switch self {
        case .open: return [.services, .processes, .graph]
        case .logs, .history: return [.processes, .graph]
        default: return nil
        }
    }

    func help(in pane: Pane.Kind) -> String {
        switch self {
        case .open: return pane == .services ? "versions & interfaces" : "neighbourhood"
        case .history: return "audit trail"
        case .reverseSort: return "reverse sort"
        case .nextPane: return "next pane"
        case .previousPane: return "previous pane"
        case .pageDown: return "page down"
        case .pageUp: return "page up"
        default: return rawValue
        }
    }
}

/// The console's key map: keys per entry (a view action's name, or an operator action's
/// binding), remappable from the config file (`console.keys`). The status line and the `?` help
/// are generated from it.
public struct KeyMap: Sendable, Equatable {
    public private(set) var keys: [String: [Key]]

    /// Every entry, most useful first (the status line shows as many as fit): help and open,
    /// the operator's actions, a process's logs and audit trail, then the rest of the view's.
    public static let entries: [String] = [ConsoleAction.help.rawValue, ConsoleAction.open.rawValue]
        + OperatorActions.bindings.map(\.name) + [ConsoleAction.logs.rawValue, ConsoleAction.history.rawValue]
        + ConsoleAction.allCases.filter { ![.help, .open, .logs, .history].contains($0) }.map(\.rawValue)

    /// The bindings of a stock console, k9s-like.
    public static let standard: KeyMap = {
        var keys: [String: [Key]] = [:]
        let view: [ConsoleAction: [Key]] = [
            .help: [.character("?")], .mark: [.character(" ")], .sort: [.character("s")], .reverseSort: [.character("S")],
            .command: [.character(":")], .filter: [.character("/")], .nextPane: [.tab, .right],
            .previousPane: [.backTab, .left], .down: [.down, .character("j")], .up: [.up, .character("k")],
            .pageDown: [.pageDown], .pageUp: [.pageUp], .first: [.home, .character("g")], .last: [.end, .character("G")],
            .zoom: [.character("z")], .open: [.enter], .back: [.escape], .quit: [.character("q")],
            .logs: [.character("l")], .history: [.character("a")],
        ]
        for (action, bound) in view { keys[action.rawValue] = bound }
        for binding in OperatorActions.bindings { keys[binding.name] = binding.keys }
        return KeyMap(keys: keys)
    }()

    /// The standard map with `overrides` (entry name → keys, comma-separated: `quit: "x"` or
    /// `down: "j,down"`). A key taken from another entry leaves it.
    public init(overrides: [String: String]) throws {
        self = .standard
        for (name, text) in overrides.sorted(by: { $0.key < $1.key }) {
            guard Self.entries.contains(name) else { throw KeyMapError.unknownAction(name, known: Self.entries) }
            let parsed = try text.split(separator: ",").map { try Key(name: String($0)) }
            guard !parsed.isEmpty else { throw KeyMapError.unknownKey(text) }
            for other in keys.keys { keys[other]?.removeAll { parsed.contains($0) } }
            keys[name] = parsed
        }
    }

    private init(keys: [String: [Key]]) { self.keys = keys }

    /// The entry `key` is bound to.
    public func entry(for key: Key) -> String? {
        keys.first { $0.value.contains(key) }?.key
    }

    /// The bindings that apply in `pane`, in the order of `entries`.
    public func bindings(for pane: Pane.Kind) -> [KeyBinding] {
        var bindings: [KeyBinding] = []
        for name in Self.entries {
            guard let bound = keys[name], !bound.isEmpty else { continue }
            let label = bound.map(\.label).joined(separator: " ")
            if let action = ConsoleAction(rawValue: name) {
                guard action.panes?.contains(pane) ?? true else { continue }
                bindings.append(KeyBinding(key: label, help: action.help(in: pane), pane: action.panes == nil ? nil : pane))
                if action == .filter { bindings.append(KeyBinding(key: Pane.Kind.digitKeys, help: "pane", pane: nil)) }
            } else if let operatorAction = OperatorActions.started(by: name, in: pane) {
                bindings.append(KeyBinding(key: label, help: operatorAction.help, pane: pane))
            }
        }
        return bindings
    }

    /// `:` commands: pane names with their aliases.
    public static let paneAliases: [String: Pane.Kind] = [
        "nodes": .nodes, "node": .nodes, "no": .nodes,
        "processes": .processes, "process": .processes, "ps": .processes, "proc": .processes,
        "graph": .graph, "connections": .graph, "co": .graph,
        "queue": .queue, "changes": .queue, "pending": .queue, "pc": .queue,
        "services": .services, "service": .services, "svc": .services, "se": .services,
        "pools": .pools, "po": .pools,
        "users": .users, "user": .users, "us": .users,
    ]
}

extension Key {
    /// Names as a config file writes them: one character, or `tab`, `backtab`, `enter`, `esc`,
    /// `space`, `up`, `down`, `left`, `right`, `pgup`, `pgdn`, `home`, `end`, `backspace`.
    public init(name: String) throws {
        let names: [String: Key] = [
            "tab": .tab, "backtab": .backTab, "enter": .enter, "esc": .escape, "escape": .escape,
            "space": .character(" "), "up": .up, "down": .down, "left": .left, "right": .right, "pgup": .pageUp,
            "pageup": .pageUp, "pgdn": .pageDown, "pagedown": .pageDown, "home": .home, "end": .end,
            "backspace": .backspace,
        ]
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if let named = names[trimmed.lowercased()] {
            self = named
        } else if trimmed.count == 1, let character = trimmed.first {
            self = .character(character)
        } else {
            throw KeyMapError.unknownKey(name)
        }
    }

    /// How help shows the key.
    var label: String {
        switch self {
        case .character(" "): return "space"
        case .character(let character): return String(character)
        case .up: return "↑"
        case .down: return "↓"
        case .left: return "←"
        case .right: return "→"
        case .pageUp: return "pgup"
        case .pageDown: return "pgdn"
        case .home: return "home"
        case .end: return "end"
        case .tab: return "tab"
        case .backTab: return "shift-tab"
        case .enter: return "enter"
        case .escape: return "esc"
        case .backspace: return "backspace"
        case .resize: return "resize"
        case .mouse: return "mouse"
        }
    }
}

/// Why the `console.keys` settings cannot be used.
public enum KeyMapError: UserFacingError, Equatable {
    case unknownAction(String, known: [String])
    case unknownKey(String)

    public var userMessage: String {
        switch self {
        case .unknownAction(let name, let known):
            return "console.keys: \"\(name)\" is not an action; actions are \(known.joined(separator: ", "))"
        case .unknownKey(let name):
            return "console.keys: \"\(name)\" is not a key; use one character or tab, backtab, enter, esc, space, up, down, left, right, pgup, pgdn, home, end, backspace"
        }
    }
}

/// A pane filter as typed after `/`: a regular expression when it is one (`TextPattern`, linear
/// time, so no pattern can freeze the console), else a substring, both case-insensitive; a
/// leading `!` keeps the rows that do not match.
public struct RowFilter: Equatable, Sendable {
    public let text: String
    private let inverted: Bool
    private let needle: String
    /// The pattern, compiled once; nil when the text is not one (then it is a substring).
    private let pattern: TextPattern?

    /// Pattern steps per row: far more than any real filter takes on a row.
    static let budgetPerRow = 200_000

    public init(_ text: String) {
        self.text = text
        inverted = text.hasPrefix("!")
        needle = inverted ? String(text.dropFirst()) : text
        pattern = try? TextPattern(needle, ignoresCase: true)
    }

    public func matches(_ row: TableRow) -> Bool {
        guard !needle.isEmpty else { return true }
        let line = row.cells.joined(separator: " ")
        var budget = Self.budgetPerRow
        let found = (try? pattern?.matches(line, budget: &budget)) ?? line.localizedCaseInsensitiveContains(needle)
        return found != inverted
    }
}
