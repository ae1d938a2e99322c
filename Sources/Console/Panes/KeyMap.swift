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

/// One key binding: the key as shown, what it does, and in which pane (nil: everywhere).
public struct KeyBinding: Equatable, Sendable {
    public var key: String
    public var help: String
    public var pane: Pane.Kind?
}

/// The console's key map, from which the status line and the `?` help are generated.
public enum KeyMap {
    /// Most useful first: the status line shows as many as fit.
    public static let bindings: [KeyBinding] = [
        KeyBinding(key: "?", help: "help", pane: nil),
        KeyBinding(key: "c", help: "classify", pane: .nodes),
        KeyBinding(key: "r", help: "rename", pane: .nodes),
        KeyBinding(key: "d", help: "declassify", pane: .nodes),
        KeyBinding(key: "n", help: "new pool", pane: .nodes),
        KeyBinding(key: "n", help: "new pool", pane: .pools),
        KeyBinding(key: "r", help: "rename", pane: .pools),
        KeyBinding(key: "d", help: "delete", pane: .pools),
        KeyBinding(key: "space", help: "mark", pane: nil),
        KeyBinding(key: "s S", help: "sort / reverse", pane: nil),
        KeyBinding(key: ":", help: "command", pane: nil),
        KeyBinding(key: "/", help: "filter", pane: nil),
        KeyBinding(key: "tab", help: "next pane", pane: nil),
        KeyBinding(key: "1-6", help: "pane", pane: nil),
        KeyBinding(key: "↑↓ j k", help: "select", pane: nil),
        KeyBinding(key: "g G", help: "first / last", pane: nil),
        KeyBinding(key: "z", help: "zoom", pane: nil),
        KeyBinding(key: "esc", help: "back", pane: nil),
        KeyBinding(key: "q", help: "quit", pane: nil),
    ]

    /// The bindings that apply in `pane`.
    public static func bindings(for pane: Pane.Kind) -> [KeyBinding] {
        bindings.filter { $0.pane == nil || $0.pane == pane }
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
