import Engine
import Foundation

/// The processes, their connections and what names them (nodes, owners, the service catalog's
/// interfaces): what the processes pane, the connections pane and the neighbourhood drawing
/// show. Built once per load, with the lookups the views need.
public struct Topology: Sendable {
    public let processes: [ServiceProcess]
    public let connections: [Connection]
    private let processesById: [String: ServiceProcess]
    private let connectionsByProcess: [String: [Connection]]
    private let nodeNames: [String: String]
    private let userNames: [String: String]
    /// Interfaces by service id and version, from the catalog (empty when it is unknown).
    private let interfacesByService: [String: [String: [Interface]]]

    public init(processes: [ServiceProcess], connections: [Connection], nodes: [Node] = [], users: [User] = [],
                catalog: ServiceCatalog? = nil) {
        self.processes = processes
        self.connections = connections
        processesById = Dictionary(processes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var byProcess: [String: [Connection]] = [:]
        for connection in connections {
            byProcess[connection.endpoint1.processId, default: []].append(connection)
            if connection.endpoint2.processId != connection.endpoint1.processId {
                byProcess[connection.endpoint2.processId, default: []].append(connection)
            }
        }
        connectionsByProcess = byProcess
        nodeNames = Dictionary(nodes.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        userNames = Dictionary(users.map { ($0.id, $0.username) }, uniquingKeysWith: { first, _ in first })
        interfacesByService = Dictionary(
            (catalog?.entries ?? []).map { entry in
                (entry.id, Dictionary(entry.versions.map { ($0.version, $0.interfaces) }, uniquingKeysWith: { first, _ in first }))
            }, uniquingKeysWith: { first, _ in first })
    }

    public static let empty = Topology(processes: [], connections: [])

    public func process(_ id: String) -> ServiceProcess? { processesById[id] }

    /// The connections `processId` is an endpoint of.
    public func connections(of processId: String) -> [Connection] { connectionsByProcess[processId] ?? [] }

    /// The name a process is shown by; its id when it is not (or no longer) known.
    public func processName(_ id: String) -> String { processesById[id]?.name ?? id }

    public func nodeName(_ id: String?) -> String? { id.map { nodeNames[$0] ?? $0 } }

    public func userName(_ id: String) -> String { userNames[id] ?? id }

    /// The interfaces the process's service version declares, when the catalog knows them.
    public func interfaces(of process: ServiceProcess) -> [Interface]? {
        interfacesByService[process.serviceId]?[process.serviceVersion]
    }

    /// Running (not terminated) processes per node id, for the nodes pane.
    public var processCountsByNode: [String: Int] {
        processes.reduce(into: [:]) { counts, process in
            guard process.state != .terminated, let node = process.runningNodeId else { return }
            counts[node, default: 0] += 1
        }
    }
}

extension RowRenderer {
    public static func processRows(_ topology: Topology, now: Date) -> [TableRow] {
        topology.processes.map { process in
            let placement: String
            switch process.placement {
            case .pool(let pool): placement = "pool \(pool)"
            case .privateNode(let node), .publicNode(let node): placement = topology.nodeName(node) ?? node
            case .automatic: placement = "any node"
            }
            return TableRow(
                id: process.id,
                cells: [process.name, "\(process.serviceId):\(process.serviceVersion)",
                        topology.nodeName(process.runningNodeId) ?? "(\(placement))", process.state.rawValue.lowercased(),
                        topology.userName(process.userId), process.created.map { age($0, now: now) } ?? "-"],
                cellRoles: [3: process.state.role])
        }
    }

    /// The connections pane: every process with each of its links, one row per link (a process
    /// without links gets one row saying so), so filtering by a process name shows its links.
    public static func linkRows(_ topology: Topology) -> [TableRow] {
        topology.processes.flatMap { process -> [TableRow] in
            let links = topology.connections(of: process.id)
            guard !links.isEmpty else {
                return [TableRow(id: process.id, cells: [process.name, "-", "(no links)", "-", "-", "-", "-"],
                                 cellRoles: [2: .dim])]
            }
            return links.map { connection in
                let (mine, theirs) = connection.endpoint1.processId == process.id
                    ? (connection.endpoint1, connection.endpoint2) : (connection.endpoint2, connection.endpoint1)
                let peerKnown = topology.process(theirs.processId) != nil
                var roles: [Int: ScreenRole] = [6: connection.problem == nil ? connection.state.role : .error]
                if !peerKnown { roles[2] = .error }
                return TableRow(
                    id: "\(process.id)/\(connection.id)",
                    cells: [process.name, mine.interfaceId, topology.processName(theirs.processId), theirs.interfaceId,
                            mine.interfaceVersionName ?? "-", "\(connection.port)",
                            connection.problem == nil ? connection.state.rawValue.lowercased() : "problem"],
                    cellRoles: roles)
            }
        }
    }

    /// The process a row of the processes or connections pane stands for.
    static func processId(ofRow id: String) -> String {
        String(id.split(separator: "/", maxSplits: 1).first ?? Substring(id))
    }

    /// The connection a row of the connections pane stands for; nil on a process without links.
    static func connectionId(ofRow id: String) -> String? {
        let parts = id.split(separator: "/", maxSplits: 1)
        return parts.count == 2 ? String(parts[1]) : nil
    }
}

extension ConnectionState {
    var role: ScreenRole {
        switch self {
        case .connected: return .ok
        case .pending, .starting, .suspended: return .warning
        case .interrupted: return .error
        case .removing: return .dim
        }
    }
}

extension ProcessState {
    var role: ScreenRole {
        switch self {
        case .running: return .ok
        case .starting, .initializing: return .warning
        case .suspended: return .dim
        case .terminated, .failing, .nodeDown: return .error
        }
    }
}
