import Benchmark
import Console
import Engine
import Foundation

// Console rendering: a pane of 10,000 rows at 200x50 (only the viewport renders; target
// <= 2 ms a frame in release), and refreshing a pane with 10,000 new rows (change marks).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], timeUnits: .microseconds,
        warmupIterations: 5, maxDuration: .seconds(10), maxIterations: 1_000)

    let rows = (0..<10_000).map { index in
        TableRow(id: "\(index)", cells: [
            "node-\(index)", index % 3 == 0 ? "public" : "private", "pool-\(index % 7)", "ready", "x86_64", "active",
            "worker", "\(index % 11)", "host-\(index).example.org",
        ])
    }

    Benchmark("render a 10,000-row pane at 200x50") { benchmark in
        var view = ConsoleView(header: HeaderInfo(cluster: "unix:///var/run/docker.sock", store: "defpi.sqlite",
                                                  user: "op", version: "bench"))
        view.pane(.nodes) { $0.refresh(rows) }
        view.panes[0].table.moveSelection(by: 5_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(view.render(width: 200, height: 50)) }
        benchmark.stopMeasurement()
    }

    Benchmark("refresh a pane with 10,000 changed rows", configuration: .init(timeUnits: .milliseconds)) { benchmark in
        var pane = ConsoleView(header: HeaderInfo(cluster: "", store: "", user: "", version: "")).panes[0]
        pane.refresh(rows)
        let changed = rows.map { row in var row = row; row.cells[3] = "down"; return row }
        benchmark.startMeasurement()
        pane.refresh(changed)
        benchmark.stopMeasurement()
        blackHole(pane)
    }
}
