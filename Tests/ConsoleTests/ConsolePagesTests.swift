import DefpiTesting
import Engine
import Foundation
import Testing

@testable import Console

/// The pages `enter` opens (a service's versions and interfaces, a process's neighbourhood),
/// deleted-row marks, and the mouse.
@Suite("Console pages", .timeLimit(.minutes(2)))
struct ConsolePagesTests {
    static func view(focus kind: Pane.Kind, selecting name: String) -> ConsoleView {
        var view = ConsoleViewTests.sampleView()
        view.focus = Pane.Kind.allCases.firstIndex(of: kind)!
        while view.panes[view.focus].table.selectedRow?.cells.first != name {
            let before = view.panes[view.focus].table.selection
            _ = view.handle(.down)
            if view.panes[view.focus].table.selection == before { break }
        }
        return view
    }

    @Test("enter on a service opens its versions, interfaces with hashes and cardinality, and compatible interfaces",
          arguments: [(80, 24), (120, 40)])
    func servicePage(width: Int, height: Int) {
        var view = Self.view(focus: .services, selecting: "aggregator")
        _ = view.handle(.enter)
        #expect(view.detail == .service(id: "aggregator"))
        let screen = view.render(width: width, height: height).text()
        Golden.check(screen, named: "service-page-\(width)x\(height)", shows: ["aggregator", "2.0.0", "1.0.0", "Readings in", "Setpoints"])
        _ = view.handle(.escape)
        #expect(view.detail == nil)
    }

    @Test("the compatibility list pairs interfaces whose sends and receives hashes match, across versions")
    func compatibility() {
        let catalog = ConsoleViewTests.sampleCatalog
        let aggregator = catalog.entry("aggregator")!.versions[0]
        let partners = catalog.compatiblePartners(of: aggregator)
        #expect(partners.map { "\($0.interface)→\($0.service)/\($0.partnerInterface)@\($0.serviceVersions.joined(separator: ","))" } == [
            "Readings in→meter/Readings@1.10.0", "Setpoints→echo/Echo@1.0.0",
        ])
    }

    @Test("enter on a process draws its neighbourhood: boxes with ports, edges routed between columns",
          arguments: [(120, 40), (200, 50)])
    func neighbourhood(width: Int, height: Int) {
        var view = Self.view(focus: .processes, selecting: "meter-1")
        _ = view.handle(.enter)
        #expect(view.detail == .neighbourhood(processId: "meter-1"))
        Golden.check(view.render(width: width, height: height).text(), named: "neighbourhood-\(width)x\(height)",
                     shows: ["meter-1", "agg-1", "Readings"])
    }

    @Test("the neighbourhood falls back to ASCII with the ASCII border, and scrolls on a small terminal")
    func neighbourhoodAsciiAndScrolling() {
        var view = Self.view(focus: .graph, selecting: "agg-1")
        view.border = .ascii
        _ = view.handle(.enter)
        #expect(view.detail == .neighbourhood(processId: "agg-1"))
        let screen = view.render(width: 80, height: 24).text()
        Golden.check(screen, named: "neighbourhood-ascii-80x24", shows: ["agg-1", "meter-1"])
        #expect(!screen.unicodeScalars.contains { $0.value > 127 && $0 != "‹" && $0 != "›" && $0 != "…" && $0 != "▏" })
        let narrow = view.render(width: 50, height: 16).text()
        _ = view.handle(.right)
        _ = view.handle(.down)
        #expect(view.render(width: 50, height: 16).text() != narrow)
        #expect(view.detailOffset.x > 0 && view.detailOffset.y == 1)
        _ = view.handle(.home)
        #expect(view.render(width: 50, height: 16).text() == narrow)
    }

    @Test("a lone process's page shows its free ports; a process that is gone says so")
    func loneAndGone() {
        var view = Self.view(focus: .processes, selecting: "lonely")
        _ = view.handle(.enter)
        let screen = view.render(width: 120, height: 30).text()
        #expect(screen.contains("lonely") && screen.contains("meter:1.2.0") && screen.contains("running on edge-1"))
        view.detail = .neighbourhood(processId: "ghost")
        #expect(view.render(width: 120, height: 30).text().contains("ghost no longer exists"))
    }

    @Test("every link appears once from each end; a drawing edge joins the two ports")
    func links() {
        let topology = ConsoleViewTests.sampleView().topology
        let rows = RowRenderer.linkRows(topology)
        #expect(rows.filter { $0.cells[0] == "agg-1" }.map { $0.cells[2] } == ["meter-1", "meter-2", "echo-1"])
        #expect(rows.first { $0.cells[0] == "lonely" }?.cells[2] == "(no links)")
        let drawing = NeighbourhoodDrawing(center: "meter-1", topology: topology)
        #expect(drawing.columns == [["meter-1"], ["agg-1"], ["meter-2", "echo-1"]])
        let joined = Set(drawing.edges.map { edge in
            [edge.ends.0, edge.ends.1].map { "\($0.process).\($0.interface)" }.sorted().joined(separator: " - ")
        })
        #expect(joined == [
            "agg-1.aggregator/readings-in - meter-1.meter/readings",
            "agg-1.aggregator/readings-in - meter-2.meter/readings",
            "agg-1.aggregator/setpoints - echo-1.echo/echo",
        ])
    }

    @Test("a process with an interface nobody is connected to draws that port (free)")
    func freePort() {
        var view = ConsoleViewTests.sampleView()
        let spare = ServiceProcess(id: "spare", name: "spare", userId: "u1", serviceId: "meter", serviceVersion: "1.10.0",
                                   placement: .pool("edge"), state: .running, runningNodeId: "n2")
        view.topology = Topology(processes: ConsoleViewTests.sampleProcesses + [spare],
                                 connections: ConsoleViewTests.sampleConnections, nodes: ConsoleViewTests.sampleNodes,
                                 users: [ConsoleViewTests.alice], catalog: ConsoleViewTests.sampleCatalog)
        view.detail = .neighbourhood(processId: "spare")
        let screen = view.render(width: 80, height: 24).text()
        #expect(screen.contains("Readings (free)"), "\(screen)")
        Golden.check(screen, named: "neighbourhood-free-port-80x24", shows: ["spare", "Readings (free)"])
    }

    @Test("rows that went away stay a moment marked deleted, then go")
    func deletedRows() {
        var pane = Pane.nodes()
        let start = Date(timeIntervalSince1970: 0)
        pane.refresh([TableRow(id: "a", cells: ["a"]), TableRow(id: "b", cells: ["b"]), TableRow(id: "c", cells: ["c"])],
                     now: start)
        pane.refresh([TableRow(id: "a", cells: ["a"]), TableRow(id: "c", cells: ["c"])], now: start.addingTimeInterval(1))
        #expect(pane.table.rows.map(\.id) == ["a", "b", "c"])
        #expect(pane.table.rows.map(\.change) == [.none, .deleted, .none])
        pane.refresh([TableRow(id: "a", cells: ["a"]), TableRow(id: "c", cells: ["c"])], now: start.addingTimeInterval(3))
        #expect(pane.table.rows.map(\.change) == [.none, .deleted, .none])
        pane.refresh([TableRow(id: "a", cells: ["a"]), TableRow(id: "c", cells: ["c"])], now: start.addingTimeInterval(4.5))
        #expect(pane.table.rows.map(\.id) == ["a", "c"])
        pane.refresh([TableRow(id: "b", cells: ["b"])], now: start.addingTimeInterval(5))
        #expect(pane.table.rows.map(\.id) == ["a", "c", "b"])
        #expect(pane.table.rows.map(\.change) == [.deleted, .deleted, .added])
        // With no refresh coming (nothing else changed), the marked rows still go in time.
        let early = pane.expireDeletedRows(now: start.addingTimeInterval(7))
        let due = pane.expireDeletedRows(now: start.addingTimeInterval(8))
        #expect(!early && due)
        #expect(pane.table.rows.map(\.id) == ["b"])
    }

    @Test("the mouse: a click focuses a pane and selects the row under it, a double click opens, the wheel scrolls")
    func mouse() {
        var view = ConsoleViewTests.sampleView()
        let tiled = view.render(width: 160, height: 40)
        // The processes pane is top right; its second row is below the border and the header.
        let processesTop = tiled.text().split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("Processes [") }!
        _ = view.handle(.mouse(MouseEvent(.click, x: 100, y: processesTop + 3)))
        #expect(view.focusedPane == .processes)
        #expect(view.panes[1].table.selectedRow?.cells.first == "meter-2")
        _ = view.handle(.mouse(MouseEvent(.wheelDown, x: 100, y: processesTop + 3)))
        #expect(view.panes[1].table.selectedRow?.cells.first == "lonely")
        _ = view.handle(.mouse(MouseEvent(.doubleClick, x: 100, y: processesTop + 2)))
        #expect(view.detail == .neighbourhood(processId: "meter-1"))
        _ = view.render(width: 80, height: 24)
        _ = view.handle(.escape)
        let narrow = view.render(width: 80, height: 24).text()
        let switcher = narrow.split(separator: "\n")[2]
        let services = TerminalText.displayWidth(String(switcher[..<switcher.range(of: "5 Services")!.lowerBound]))
        _ = view.handle(.mouse(MouseEvent(.click, x: services, y: 2)))
        #expect(view.focusedPane == .services)
    }
}
