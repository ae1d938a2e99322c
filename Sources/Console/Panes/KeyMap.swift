import Engine

/// What the operator asked the console to do, carried out by the app against the Engine.
public enum ConsoleEffect: Equatable, Sendable {
    case quit
    case classifyPublic(nodeIds: [String], pool: String)
    case classifyPrivate(nodeIds: [String], owner: String)
    case rename(nodeId: String, name: String)
    case declassify(nodeIds: [String])
    case createPool(String)
    case renamePool(poolId: String, name: String)
    case deletePool(poolId: String)
    case theme(String)
}

/// A line the operator is typing at the bottom of the screen.
public struct Prompt: Equatable, Sendable {
    public enum Purpose: Equatable, Sendable {
        /// `:nodes`, `:queue`, `:theme light` ...
        case command
        /// `/text`, `/regex`, `/!text`: filters the focused pane as it is typed.
        case filter
        case classify(nodeIds: [String])
        case rename(nodeId: String)
        case declassify(nodeIds: [String])
        case createPool
        case renamePool(poolId: String)
        case deletePool(poolId: String)
    }

    public var purpose: Purpose
    public var label: String
    public var text: String
}

/// One key binding as help shows it: the keys, what they do, and in which pane (nil: everywhere).
public struct KeyBinding: Equatable, Sendable {
    public var key: String
    public var help: String
    public var pane: Pane.Kind?
}

/// What a key can do in the console; the key map binds keys to these.
public enum ConsoleAction: String, CaseIterable, Sendable {
    case help, open, classify, rename, remove, create, mark, sort, reverseSort, command, filter
    case nextPane, previousPane, down, up, pageDown, pageUp, first, last, zoom, back, quit

    /// The panes the action applies to; nil: every pane.
    var panes: [Pane.Kind]? {
        switch self {
        case .classify: return [.nodes]
        case .rename, .remove, .create: return [.nodes, .pools]
        case .open: return [.services, .processes, .graph]
        default: return nil
        }
    }

    /// Whether it changes something (refused by a read-only console).
    var isChange: Bool { self == .classify || self == .rename || self == .remove || self == .create }

    func help(in pane: Pane.Kind) -> String {
        switch self {
        case .remove: return pane == .pools ? "delete" : "declassify"
        case .open: return pane == .services ? "versions & interfaces" : "neighbourhood"
        case .create: return "new pool"
        case .reverseSort: return "reverse sort"
        case .nextPane: return "next pane"
        case .previousPane: return "previous pane"
        case .pageDown: return "page down"
        case .pageUp: return "page up"
        default: return rawValue
        }
    }
}

/// The console's key map: keys per action, remappable from the config file (`console.keys`).
/// The status line and the `?` help are generated from it.
public struct KeyMap: Sendable, Equatable {
    public private(set) var keys: [ConsoleAction: [Key]]

    /// The bindings of a stock console, k9s-like. Most useful first: the status line shows as
    /// many as fit.
    public static let standard = KeyMap(keys: [
        .help: [.character("?")], .classify: [.character("c")], .rename: [.character("r")],
        .remove: [.character("d")], .create: [.character("n")], .mark: [.character(" ")],
        .sort: [.character("s")], .reverseSort: [.character("S")], .command: [.character(":")],
        .filter: [.character("/")], .nextPane: [.tab, .right], .previousPane: [.backTab, .left],
        .down: [.down, .character("j")], .up: [.up, .character("k")], .pageDown: [.pageDown], .pageUp: [.pageUp],
        .first: [.home, .character("g")], .last: [.end, .character("G")], .zoom: [.character("z")], .open: [.enter],
        .back: [.escape], .quit: [.character("q")],
    ])

    /// The standard map with `overrides` (action name → keys, comma-separated: `quit: "x,ctrl-q"`
    /// is not a thing; `quit: "x"` or `down: "j,down"`). A key taken from another action leaves it.
    public init(overrides: [String: String]) throws {
        self = .standard
        for (name, text) in overrides.sorted(by: { $0.key < $1.key }) {
            guard let action = ConsoleAction(rawValue: name) else {
                throw KeyMapError.unknownAction(name, known: ConsoleAction.allCases.map(\.rawValue))
            }
            let parsed = try text.split(separator: ",").map { try Key(name: String($0)) }
            guard !parsed.isEmpty else { throw KeyMapError.unknownKey(text) }
            for other in keys.keys { keys[other]?.removeAll { parsed.contains($0) } }
            keys[action] = parsed
        }
    }

    private init(keys: [ConsoleAction: [Key]]) { self.keys = keys }

    /// The action `key` is bound to.
    public func action(for key: Key) -> ConsoleAction? {
        keys.first { $0.value.contains(key) }?.key
    }

    /// The bindings that apply in `pane`, in the order of `ConsoleAction`.
    public func bindings(for pane: Pane.Kind) -> [KeyBinding] {
        var bindings: [KeyBinding] = []
        for action in ConsoleAction.allCases where action.panes?.contains(pane) ?? true {
            guard let bound = keys[action], !bound.isEmpty else { continue }
            bindings.append(KeyBinding(key: bound.map(\.label).joined(separator: " "), help: action.help(in: pane),
                                       pane: action.panes == nil ? nil : pane))
            if action == .filter { bindings.append(KeyBinding(key: "1-6", help: "pane", pane: nil)) }
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

/// A pane filter as typed after `/`: a regular expression when it is one, else a substring,
/// both case-insensitive; a leading `!` keeps the rows that do not match.
public struct RowFilter: Equatable, Sendable {
    public let text: String

    public init(_ text: String) { self.text = text }

    public func matches(_ row: TableRow) -> Bool {
        let inverted = text.hasPrefix("!")
        let pattern = inverted ? String(text.dropFirst()) : text
        guard !pattern.isEmpty else { return true }
        let line = row.cells.joined(separator: " ")
        let found: Bool
        if let regex = try? Regex(pattern).ignoresCase() {
            found = line.contains(regex)
        } else {
            found = line.localizedCaseInsensitiveContains(pattern)
        }
        return found != inverted
    }
}
