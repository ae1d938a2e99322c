import DefpiTesting
import Engine
import Foundation
import Testing

@testable import Console

/// The console's views rendered into the cell grid at fixed sizes, compared with golden files.
@Suite("Console views", .timeLimit(.minutes(2)))
struct ConsoleViewTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)

    /// A console with fixed data: three nodes of every kind and a queue with every state.
    static func sampleView() -> ConsoleView {
        var view = ConsoleView(header: HeaderInfo(
            cluster: "unix:///var/run/docker.sock", store: "/home/op/.local/share/defpi/defpi.sqlite", user: "op",
            version: "0.1.0"))
        let pool = NodePool(id: "p1", name: "edge")
        let (alice, nodes) = (Self.alice, Self.sampleNodes)
        let changes = [
            PendingChange(id: "c1", type: "NODE_LABELS", description: "node edge-1: public in pool edge", resources: ["n2"],
                          state: .finished, count: 1, runAt: now.addingTimeInterval(-60), createdBy: "op"),
            PendingChange(id: "c2", type: "NODE_LABELS", description: "node lab: private to alice", resources: ["n3"],
                          state: .failedTemporary, count: 3, runAt: now.addingTimeInterval(8),
                          lastError: "cannot reach Docker at unix:///var/run/docker.sock: cannot connect", createdBy: "op"),
            PendingChange(id: "c3", type: "NODE_LABELS", description: "node tb-mgr: unidentified", resources: ["n1"],
                          runAt: now, createdBy: "op"),
        ]
        let catalog = sampleCatalog
        let topology = Topology(processes: sampleProcesses, connections: sampleConnections, nodes: nodes, users: [alice],
                                catalog: catalog)
        view.pane(.nodes) {
            $0.refresh(RowRenderer.nodeRows(nodes, pools: [pool], users: [alice], processCounts: topology.processCountsByNode))
        }
        view.pane(.queue) { $0.refresh(RowRenderer.queueRows(changes, now: now)) }
        var lab = NodePool(id: "p2", name: "lab")
        lab.hostPaths = [HostPathGrant(path: "/dev/ttyUSB0")]
        view.pane(.pools) { $0.refresh(RowRenderer.poolRows([pool, lab], nodes: nodes)) }
        view.pane(.services) { $0.refresh(RowRenderer.serviceRows(catalog)) }
        view.pane(.processes) { $0.refresh(RowRenderer.processRows(topology, now: now)) }
        view.pane(.graph) { $0.refresh(RowRenderer.linkRows(topology)) }
        view.pane(.users) {
            $0.refresh(RowRenderer.userRows([alice, User(id: "u2", username: "root", email: "root@example.org", admin: true)],
                                            processes: sampleProcesses, nodes: nodes,
                                            quotas: ["u1": UserQuota(id: "u1", maxProcesses: 5, maxMemoryBytes: 1 << 30)]))
        }
        view.topology = topology
        view.catalog = catalog
        return view
    }

    static let alice = User(id: "u1", username: "alice")

    static let sampleNodes = [
        Node(id: "n1", kind: .unidentified, dockerId: "d1", hostname: "tb-mgr", status: .ready, architecture: .x86_64,
             role: .manager),
        Node(id: "n2", kind: .public, name: "edge-1", dockerId: "d2", hostname: "tb-w1", status: .ready,
             architecture: .arm64, nodePoolId: "p1"),
        Node(id: "n3", kind: .private, name: "lab", dockerId: "d3", hostname: "tb-w2", status: .down,
             architecture: .x86_64, availability: .pause, userId: "u1"),
    ]

    static func hash(_ seed: String) -> String { String(repeating: seed, count: 64 / seed.count) }

    static func interface(_ service: String, _ name: String, sends: String, receives: String, multiple: Bool = false,
                          auto: Bool = false) -> Interface {
        Interface(id: "\(service)/\(name.lowercased().replacingOccurrences(of: " ", with: "-"))", name: name,
                  serviceId: service,
                  interfaceVersions: [InterfaceVersion(versionName: "v1", receivesHash: hash(receives), sendsHash: hash(sends))],
                  allowMultiple: multiple, autoConnect: auto)
    }

    /// Meters send readings to an aggregator (many meters to one), which sends setpoints to an echo.
    static let sampleCatalog: ServiceCatalog = {
        let readings = interface("meter", "Readings", sends: "5e", receives: "7a")
        let readingsIn = interface("aggregator", "Readings in", sends: "7a", receives: "5e", multiple: true, auto: true)
        let setpoints = interface("aggregator", "Setpoints", sends: "c3", receives: "d4")
        let echo = interface("echo", "Echo", sends: "d4", receives: "c3")
        let created = Date(timeIntervalSince1970: 1_794_000_000)
        func service(_ id: String, _ name: String, _ version: String, _ interfaces: [Interface],
                     arm: Bool = false) -> Service {
            Service(id: id, name: name, version: version, registry: "127.0.0.1:5000", created: created,
                    tags: arm ? [.x86_64: version, .arm64: version + "-arm"] : [.x86_64: version], interfaces: interfaces)
        }
        return ServiceCatalog(entries: [
            .init(id: "aggregator", versions: [service("aggregator", "Aggregator", "2.0.0", [readingsIn, setpoints]),
                                               service("aggregator", "Aggregator", "1.0.0", [readingsIn])]),
            .init(id: "echo", versions: [service("echo", "Echo", "1.0.0", [echo])]),
            .init(id: "meter", versions: [service("meter", "Meter", "1.10.0", [readings], arm: true),
                                          service("meter", "Meter", "1.2.0", [])]),
            .init(id: "plain", versions: [
                Service(id: "plain", name: "plain", version: "1", registry: "127.0.0.1:5000", tags: [.x86_64: "1"],
                        problem: "the image has no org.flexiblepower.serviceName label; it is not a dEF-Pi service image"),
            ]),
        ], fetchedAt: now)
    }()

    static let sampleProcesses: [ServiceProcess] = {
        func process(_ id: String, _ service: String, _ version: String, node: String?, state: ProcessState,
                     age: TimeInterval) -> ServiceProcess {
            ServiceProcess(id: id, name: id, userId: "u1", serviceId: service, serviceVersion: version,
                           placement: .pool("edge"), state: state, runningNodeId: node, created: now.addingTimeInterval(-age))
        }
        return [
            process("meter-1", "meter", "1.10.0", node: "n2", state: .running, age: 7_200),
            process("meter-2", "meter", "1.10.0", node: nil, state: .starting, age: 12),
            process("agg-1", "aggregator", "2.0.0", node: "n2", state: .running, age: 90_000),
            process("echo-1", "echo", "1.0.0", node: "n3", state: .suspended, age: 300),
            process("lonely", "meter", "1.2.0", node: "n2", state: .running, age: 45),
        ]
    }()

    static let sampleConnections: [Connection] = {
        func link(_ id: String, _ first: String, _ firstInterface: String, _ second: String, _ secondInterface: String,
                  port: Int, states: (EndpointState?, EndpointState?) = (.connected, .connected)) -> Connection {
            Connection(id: id, endpoint1: Endpoint(processId: first, interfaceId: firstInterface, interfaceVersionName: "v1",
                                                   state: states.0),
                       endpoint2: Endpoint(processId: second, interfaceId: secondInterface, interfaceVersionName: "v1",
                                           state: states.1),
                       port: port)
        }
        return [
            link("c1", "meter-1", "meter/readings", "agg-1", "aggregator/readings-in", port: 5001),
            // meter-2 has not been told yet: pending.
            link("c2", "meter-2", "meter/readings", "agg-1", "aggregator/readings-in", port: 5002, states: (nil, .connected)),
            link("c3", "agg-1", "aggregator/setpoints", "echo-1", "echo/echo", port: 5003),
        ]
    }()

    /// What each pane must show of the sample, at any size: its title and its first rows.
    static let shown: [Pane.Kind: [String]] = [
        .nodes: ["Nodes [3]", "tb-mgr", "edge-1", "lab"], .processes: ["Processes [5]", "meter-1", "meter-2", "agg-1"],
        .graph: ["Connections [", "meter-1", "agg-1"], .queue: ["Pending changes [3]"], .services: ["Services [4]", "aggrega", "echo", "meter"],
        .pools: ["Pools [2]", "edge", "lab"], .users: ["Users [2]", "alice", "root"],
    ]

    @Test("every pane at 80x24, 120x40 and 200x50 matches its golden file, and renders the same twice",
          arguments: [(80, 24), (120, 40), (200, 50)])
    func panes(width: Int, height: Int) {
        for kind in Pane.Kind.allCases {
            var view = Self.sampleView()
            view.focus = Pane.Kind.allCases.firstIndex(of: kind)!
            let first = view.render(width: width, height: height)
            #expect(view.render(width: width, height: height) == first)
            Golden.check(first.text(), named: "\(kind.rawValue)-\(width)x\(height)", shows: ["‹\(kind.rawValue)›"] + Self.shown[kind, default: []])
        }
    }

    @Test("a zoomed pane fills the screen; a Docker problem shows as a banner")
    func zoomAndBanner() {
        var view = Self.sampleView()
        view.zoomed = true
        view.header.dockerProblem = "cannot reach Docker at unix:///var/run/docker.sock: cannot connect; is dockerd running?"
        Golden.check(view.render(width: 120, height: 20).text(), named: "nodes-zoomed-banner-120x20",
                     shows: ["cannot reach Docker at unix:///var/run/docker.sock", "Nodes [3]", "tb-mgr"])
    }

    @Test("rows refreshed with new and changed entries are marked added and modified")
    func changeMarks() {
        var pane = Pane.nodes()
        let first = [TableRow(id: "a", cells: ["a", "ready"]), TableRow(id: "b", cells: ["b", "ready"])]
        pane.refresh(first)
        #expect(pane.table.rows.map(\.change) == [.none, .none])
        pane.refresh([TableRow(id: "a", cells: ["a", "down"]), TableRow(id: "b", cells: ["b", "ready"]),
                      TableRow(id: "c", cells: ["c", "ready"])])
        #expect(pane.table.rows.map(\.change) == [.modified, .none, .added])
    }

    @Test("the selection follows its row across refreshes and stays in view while scrolling")
    func selection() {
        var table = TableView(columns: [TableColumn("NAME")])
        table.setRows((0..<100).map { TableRow(id: "\($0)", cells: ["row \($0)"]) })
        table.moveSelection(by: 50)
        var grid = CellGrid(width: 20, height: 11)
        table.render(into: &grid, Rect(x: 0, y: 0, width: 20, height: 11), focused: true)
        #expect(grid.text().contains("row 50"))
        #expect(!grid.text().contains("row 30"))
        table.setRows((0..<100).reversed().map { TableRow(id: "\($0)", cells: ["row \($0)"]) })
        #expect(table.selectedRow?.id == "50")
    }

    @Test("wide and combining characters are laid out by display width, cut with an ellipsis")
    func wideText() {
        var grid = CellGrid(width: 12, height: 1)
        let used = grid.write("日本語ノード-é", x: 0, y: 0, limit: 10)
        #expect(used == 9)  // a wide character does not fit in the one column left before the ellipsis
        #expect(grid.text() == "日本語ノ…")
        var fits = CellGrid(width: 12, height: 1)
        #expect(fits.write("café", x: 0, y: 0) == 4)
    }
}
