import Engine

/// The neighbourhood of one process drawn as a layered graph: the process in the first column,
/// the processes connected to it in the next, theirs in the one after. Each process is a box
/// with its service, state, node and interface ports; each connection is an edge from port to
/// port, routed on a track of its own in the channel between two columns.
///
/// Hand-written: no layout library for character cells exists in Swift. The layout is the
/// classic layered one, kept small: columns by distance, children ordered by the port of their
/// parent they hang from (fewer crossings), and tracks in a channel swapped while that removes
/// crossings.
public struct NeighbourhoodDrawing {
    /// A process's box: where it is, how big, and its ports.
    struct Box {
        var process: ServiceProcess
        var lines: [(text: String, role: ScreenRole)]
        var ports: [(interfaceId: String, name: String, connected: Bool)]
        var x = 0, y = 0, width = 0

        var height: Int { 2 + lines.count + (ports.isEmpty ? 0 : 1 + ports.count) }

        func portIndex(_ interfaceId: String) -> Int { ports.firstIndex { $0.interfaceId == interfaceId } ?? 0 }

        /// The row a port is drawn on.
        func row(of interfaceId: String) -> Int { y + 2 + lines.count + portIndex(interfaceId) }
    }

    /// One end of a connection: a process and its interface.
    struct End: Equatable {
        var process: String
        var interface: String
    }

    /// A connection between two drawn boxes, and where it runs once laid out.
    struct Edge {
        var ends: (End, End)
        /// As both sides report it: the ends are drawn filled once it is connected.
        var state: ConnectionState
        var channel = 0
        var track = 0
        /// The two horizontal runs (from a port to the track) and the vertical run on the track.
        var horizontals: [(y: Int, from: Int, to: Int)] = []
        var vertical = (x: 0, from: 0, to: 0)
    }

    /// At most this many processes per column; the rest are counted below the drawing.
    public static let maximumPerColumn = 16

    private(set) var columns: [[String]] = []
    private(set) var boxes: [String: Box] = [:]
    private(set) var edges: [Edge] = []
    /// Processes within reach that were left out for room.
    private(set) var leftOut = 0
    private(set) var size = (width: 0, height: 0)
    private let centerId: String

    public init(center: String, topology: Topology, depth: Int = 2) {
        centerId = center
        guard let process = topology.process(center) else { return }
        boxes[center] = Self.box(for: process, topology: topology)
        columns = [[center]]
        for _ in 0..<depth {
            var next: [String] = []
            for parent in columns.last! {
                // A parent's neighbours in the order of its ports, so edges leave it without crossing.
                let box = boxes[parent]!
                let neighbours = topology.connections(of: parent).compactMap { connection -> (End, Int)? in
                    guard let mine = Self.end(of: connection, at: parent), let theirs = connection.otherEndpoint(of: parent),
                          topology.process(theirs.processId) != nil else { return nil }
                    return (End(process: theirs.processId, interface: theirs.interfaceId), box.portIndex(mine.interface))
                }.sorted { ($0.1, topology.processName($0.0.process)) < ($1.1, topology.processName($1.0.process)) }
                for (neighbour, _) in neighbours where boxes[neighbour.process] == nil {
                    guard next.count < Self.maximumPerColumn else {
                        if !next.contains(neighbour.process) { leftOut += 1 }
                        continue
                    }
                    boxes[neighbour.process] = Self.box(for: topology.process(neighbour.process)!, topology: topology)
                    next.append(neighbour.process)
                }
            }
            if next.isEmpty { break }
            columns.append(next)
        }
        var seen: Set<String> = []
        for id in columns.joined() {
            for connection in topology.connections(of: id) where !seen.contains(connection.id) {
                let first = End(process: connection.endpoint1.processId, interface: connection.endpoint1.interfaceId)
                let second = End(process: connection.endpoint2.processId, interface: connection.endpoint2.interfaceId)
                guard boxes[first.process] != nil, boxes[second.process] != nil else { continue }
                seen.insert(connection.id)
                edges.append(Edge(ends: (first, second), state: connection.state))
            }
        }
        layOut()
    }

    private static func end(of connection: Connection, at processId: String) -> End? {
        if connection.endpoint1.processId == processId {
            return End(process: processId, interface: connection.endpoint1.interfaceId)
        }
        if connection.endpoint2.processId == processId {
            return End(process: processId, interface: connection.endpoint2.interfaceId)
        }
        return nil
    }

    /// The box of a process: its declared interfaces (from the catalog), then any other
    /// interface a connection uses; a port is connected when any connection uses it, drawn or not.
    private static func box(for process: ServiceProcess, topology: Topology) -> Box {
        let declared = topology.interfaces(of: process) ?? []
        let used = Set(topology.connections(of: process.id).compactMap { end(of: $0, at: process.id)?.interface })
        var portIds = declared.map(\.id)
        for id in used.sorted() where !portIds.contains(id) { portIds.append(id) }
        let ports = portIds.map { id -> (interfaceId: String, name: String, connected: Bool) in
            let interface = declared.first { $0.id == id }
            let name = interface?.name ?? String(id.split(separator: "/").last ?? Substring(id))
            return (id, name + (interface?.allowMultiple == true ? " *" : ""), used.contains(id))
        }
        let node = topology.nodeName(process.runningNodeId).map { " on \($0)" } ?? ""
        return Box(process: process,
                   lines: [("\(process.serviceId):\(process.serviceVersion)", .text),
                           (process.state.rawValue.lowercased() + node, process.state.role)],
                   ports: ports)
    }

    /// Whether there is nothing to draw: the process is not known.
    public var isEmpty: Bool { columns.isEmpty }

    private func column(of id: String) -> Int { columns.firstIndex { $0.contains(id) } ?? 0 }

    /// Places columns, boxes and channels, then routes every edge on a track of its channel.
    private mutating func layOut() {
        for (id, box) in boxes {
            let widest = (box.lines.map(\.text) + box.ports.map { $0.name + " (free)" })
                .map(TerminalText.displayWidth).max() ?? 0
            boxes[id]!.width = max(widest + 4, TerminalText.displayWidth(box.process.name) + 6)
        }
        // An edge runs in the channel right of its leftmost column (right of both when they share one).
        for index in edges.indices {
            edges[index].channel = min(column(of: edges[index].ends.0.process), column(of: edges[index].ends.1.process))
        }
        var x = 0
        var heights: [Int] = []
        var channelX: [Int] = []
        for (index, column) in columns.enumerated() {
            let width = column.map { boxes[$0]!.width }.max() ?? 0
            for id in column { boxes[id]!.x = x }
            heights.append(column.reduce(0) { $0 + boxes[$1]!.height + 1 } - 1)
            channelX.append(x + width)
            let tracks = edges.filter { $0.channel == index }.count
            x += width + (tracks > 0 ? 3 + 2 * tracks : index == columns.count - 1 ? 0 : 4)
        }
        let tallest = heights.max() ?? 0
        for (index, column) in columns.enumerated() {
            var y = (tallest - heights[index]) / 2
            for id in column {
                boxes[id]!.y = y
                y += boxes[id]!.height + 1
            }
        }
        size = (x, tallest + (leftOut > 0 ? 2 : 0))
        for channel in columns.indices {
            var members = edges.indices.filter { edges[$0].channel == channel }
            members.sort { leftRow(of: edges[$0]) < leftRow(of: edges[$1]) }
            var best = route(members, at: channelX[channel])
            // Swap neighbouring tracks while that removes crossings (a few passes suffice here).
            for _ in 0..<8 {
                var improved = false
                for index in members.indices.dropLast() {
                    var candidate = members
                    candidate.swapAt(index, index + 1)
                    let routed = route(candidate, at: channelX[channel])
                    if Self.crossings(routed) < Self.crossings(best) {
                        (members, best, improved) = (candidate, routed, true)
                    }
                }
                if !improved { break }
            }
            for (index, edge) in zip(members, best) { edges[index] = edge }
        }
    }

    /// The row where an edge meets its channel's left column.
    private func leftRow(of edge: Edge) -> Int {
        let end = column(of: edge.ends.0.process) == edge.channel ? edge.ends.0 : edge.ends.1
        return boxes[end.process]!.row(of: end.interface)
    }

    /// The runs of `members`, in this order on the tracks of the channel that starts at `left`.
    private func route(_ members: [Int], at left: Int) -> [Edge] {
        members.enumerated().map { track, index in
            var edge = edges[index]
            edge.track = left + 2 + 2 * track
            edge.horizontals = [edge.ends.0, edge.ends.1].map { end in
                let box = boxes[end.process]!
                let onRight = column(of: end.process) == edge.channel
                let side = onRight ? box.x + box.width - 1 : box.x
                return (box.row(of: end.interface), onRight ? side + 1 : side - 1, edge.track)
            }
            edge.vertical = (edge.track, edge.horizontals[0].y, edge.horizontals[1].y)
            return edge
        }
    }

    /// How often a horizontal run of one edge crosses the vertical run of another; two runs of
    /// different ports sharing cells of a row count ten times, since that reads as a link.
    private static func crossings(_ edges: [Edge]) -> Int {
        var count = 0
        for edge in edges {
            for other in edges where other.track != edge.track {
                let (low, high) = (min(other.vertical.from, other.vertical.to), max(other.vertical.from, other.vertical.to))
                for run in edge.horizontals {
                    let (left, right) = (min(run.from, run.to), max(run.from, run.to))
                    if run.y > low && run.y < high && other.track > left && other.track < right { count += 1 }
                    for otherRun in other.horizontals where otherRun.y == run.y && otherRun.from != run.from
                        && max(otherRun.from, otherRun.to) >= left && min(otherRun.from, otherRun.to) <= right {
                        count += 10
                    }
                }
            }
        }
        return count
    }

    /// The drawing on a grid of its own size; the view scrolls over it.
    public func render(border: BorderStyle) -> CellGrid {
        var grid = CellGrid(width: size.width, height: size.height)
        let ascii = border == .ascii
        var lines = LineCanvas()
        for edge in edges {
            for run in edge.horizontals { lines.horizontal(y: run.y, from: run.from, to: run.to) }
            lines.vertical(x: edge.vertical.x, from: edge.vertical.from, to: edge.vertical.to)
        }
        lines.draw(into: &grid, ascii: ascii, style: CellStyle(.key))
        for box in boxes.values { draw(box, into: &grid, border: border, ascii: ascii) }
        for edge in edges {
            let (glyph, style) = Self.ends(of: edge.state, ascii: ascii)
            for run in edge.horizontals {
                let port = run.from < run.to ? run.from - 1 : run.from + 1
                grid.put(glyph, x: port, y: run.y, style: style)
            }
        }
        if leftOut > 0 {
            grid.write("… and \(leftOut) more connected processes not drawn: the connections pane lists them all",
                       x: 0, y: size.height - 1, style: CellStyle(.dim))
        }
        return grid
    }

    /// How an edge's ends show its state: filled once connected, hollow while pending or
    /// starting, crossed while interrupted or being removed.
    static func ends(of state: ConnectionState, ascii: Bool) -> (String, CellStyle) {
        switch state {
        case .connected: return (ascii ? "*" : "●", CellStyle(.ok, bold: true))
        case .pending, .starting, .suspended: return (ascii ? "o" : "○", CellStyle(.warning, bold: true))
        case .interrupted: return (ascii ? "x" : "✕", CellStyle(.error, bold: true))
        case .removing: return (ascii ? "x" : "✕", CellStyle(.dim))
        }
    }

    private func draw(_ box: Box, into grid: inout CellGrid, border: BorderStyle, ascii: Bool) {
        let isCenter = box.process.id == centerId
        let inner = Frame(title: box.process.name, focused: isCenter, border: border)
            .render(into: &grid, Rect(x: box.x, y: box.y, width: box.width, height: box.height))
        for (line, content) in box.lines.enumerated() {
            grid.write(content.text, x: inner.x + 1, y: inner.y + line, style: CellStyle(content.role), limit: inner.width - 1)
        }
        guard !box.ports.isEmpty else { return }
        // A rule between the facts and the ports, joined to the frame.
        let rule = inner.y + box.lines.count
        let style = CellStyle(isCenter ? .title : .border, bold: isCenter)
        let (_, _, _, _, horizontal, _) = border.characters
        let (left, right) = ascii ? ("+", "+") : border == .double ? ("╟", "╢") : ("├", "┤")
        grid.put(left, x: box.x, y: rule, style: style)
        grid.put(right, x: box.x + box.width - 1, y: rule, style: style)
        for x in inner.x..<(inner.x + inner.width) { grid.put(ascii ? "-" : border == .double ? "─" : horizontal, x: x, y: rule, style: style) }
        for (index, port) in box.ports.enumerated() {
            let y = rule + 1 + index
            let x = inner.x + 1 + grid.write(port.name, x: inner.x + 1, y: y, style: CellStyle(port.connected ? .text : .dim),
                                             limit: inner.width - 1)
            if !port.connected { grid.write(" (free)", x: x, y: y, style: CellStyle(.dim)) }
        }
    }
}
