import Benchmark
import BenchmarkSupport
import Console
import Engine
import Foundation

// Console benchmarks.
// Without a terminal (the views render into the cell grid):
// - the processes pane with 10,000 processes at 200x50: only the viewport renders (target <= 2 ms
//   a frame in release);
// - refreshing a pane with 10,000 changed rows (change marks).
// The release `defpi console` in tmux against the test bed (scripts/benchmark.sh builds it and
// brings the bed up), measured on the screen the operator sees:
// - start to the first frame with the swarm's nodes (target <= 300 ms);
// - a Docker node event to the repainted nodes pane (target p99 <= 100 ms);
// - resident memory and CPU with 10,000 processes in the store, idle (target RSS <= 100 MB) and
//   while another process writes to the store every second.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], timeUnits: .microseconds,
        warmupIterations: 5, maxDuration: .seconds(10), maxIterations: 1_000)

    let processes = ProcessWorkload.processes(count: 10_000)
    let topology = Topology(processes: processes, connections: [], nodes: ProcessWorkload.nodes)

    Benchmark("render the processes pane with 10,000 processes at 200x50") { benchmark in
        var view = ConsoleView(header: HeaderInfo(cluster: "unix:///var/run/docker.sock", store: "defpi.sqlite",
                                                  user: "op", version: "bench"))
        view.pane(.processes) { $0.refresh(RowRenderer.processRows(topology, now: Date())) }
        view.focus = 1
        view.panes[1].table.moveSelection(by: 5_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(view.render(width: 200, height: 50)) }
        benchmark.stopMeasurement()
    }

    Benchmark("refresh a pane with 10,000 changed rows", configuration: .init(timeUnits: .milliseconds)) { benchmark in
        var pane = ConsoleView(header: HeaderInfo(cluster: "", store: "", user: "", version: "")).panes[1]
        let rows = RowRenderer.processRows(topology, now: Date())
        pane.refresh(rows)
        let changed = rows.map { row in var row = row; row.cells[3] = "suspended"; return row }
        benchmark.startMeasurement()
        pane.refresh(changed)
        benchmark.stopMeasurement()
        blackHole(pane)
    }

    let environment = ProcessInfo.processInfo.environment
    guard let socket = environment["TESTBED_DOCKER_SOCKET"], let binary = environment["DEFPI_BINARY"] else {
        print("ConsoleBenchmarks: the test bed is not up or DEFPI_BINARY is unset (run scripts/benchmark.sh); skipping the console runs")
        return
    }
    let consoleEnvironment = ["DOCKER_HOST": "unix://\(socket)"]

    Benchmark("console start to the first frame with the swarm's nodes", configuration: .init(
        metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 1, maxDuration: .seconds(60),
        maxIterations: 10)) { benchmark in
        let store = ProcessWorkload.directory + "/start.sqlite"
        guard let console = await benchmark.step("starting the console in tmux", {
            try await ConsoleUnderTest(binary: binary, environment: consoleEnvironment.merging(["DEFPI_STORE": store]) { _, new in new })
        }), let swarm = await benchmark.step("reading the swarm", { try await SwarmProbe.shared(socket: socket) }) else { return }
        benchmark.startMeasurement()
        guard await benchmark.step("starting the console", { try await console.go() }) != nil else { return await console.stop() }
        let shown = await console.waitFor { screen in swarm.hostnames.allSatisfy(screen.contains) }
        benchmark.stopMeasurement()
        await console.require(shown, "the console never showed the swarm's nodes", in: benchmark)
        await console.stop()
    }

    Benchmark("Docker node event to the repainted nodes pane", configuration: .init(
        metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 2, maxDuration: .seconds(60),
        maxIterations: 100)) { benchmark in
        guard let console = RunningConsole.shared,
              let swarm = await benchmark.step("reading the swarm", { try await SwarmProbe.shared(socket: socket) }),
              let availability = await benchmark.step("changing a worker's availability", { try await swarm.flipWorker() })
        else { return }
        benchmark.startMeasurement()
        let shown = await console.waitFor { screen in
            screen.split(separator: "\n").contains { $0.contains(swarm.workerHostname) && $0.contains(" \(availability) ") }
        }
        benchmark.stopMeasurement()
        guard await console.require(shown, "the nodes pane never showed \(availability)", in: benchmark) else { return }
    } setup: {
        let console = try await ConsoleUnderTest(binary: binary, environment: consoleEnvironment.merging(
            ["DEFPI_STORE": ProcessWorkload.directory + "/events.sqlite"]) { _, new in new })
        try await console.go()
        let swarm = try await SwarmProbe.shared(socket: socket)
        guard await console.waitFor({ screen in swarm.hostnames.allSatisfy(screen.contains) }) else {
            throw BenchmarkSetupError("the console never showed the swarm's nodes")
        }
        try await console.keys("z")
        RunningConsole.shared = console
    } teardown: {
        await RunningConsole.shared?.stop()
        try? await SwarmProbe.shared(socket: socket).restoreWorker()
    }

    let rss = BenchmarkMetric.custom("resident memory, idle (MB)", polarity: .prefersSmaller, useScalingFactor: false)
    let cpu = BenchmarkMetric.custom("CPU, idle (% of a core)", polarity: .prefersSmaller, useScalingFactor: false)
    let peak = BenchmarkMetric.custom("peak resident memory, store changing (MB)", polarity: .prefersSmaller,
                                      useScalingFactor: false)
    let busyCPU = BenchmarkMetric.custom("CPU, store changing (% of a core)", polarity: .prefersSmaller,
                                         useScalingFactor: false)
    Benchmark("console with 10,000 processes: memory and CPU, idle and with the store changing every second",
              configuration: .init(metrics: [rss, cpu, peak, busyCPU], warmupIterations: 0, maxDuration: .seconds(120),
                                   maxIterations: 1)) { benchmark in
        let store = ProcessWorkload.directory + "/processes.sqlite"
        guard await benchmark.step("filling the store", { try await ProcessWorkload.fill(store, with: processes) }) != nil,
              let console = await benchmark.step("starting the console in tmux", {
                  try await ConsoleUnderTest(binary: binary, environment: consoleEnvironment.merging(["DEFPI_STORE": store]) { _, new in new })
              }),
              await benchmark.step("starting the console", { try await console.go() }) != nil else { return }
        let shown = await console.waitFor(timeout: .seconds(30)) { $0.contains("Processes [10000]") }
        guard await console.require(shown, "the console never showed the processes", in: benchmark) else { return await console.stop() }
        // Let a few full reloads pass, then measure a quiet stretch.
        try? await Task.sleep(for: .seconds(5))
        guard let pid = await benchmark.step("reading the console's pid", { try await console.pid() }) else { return await console.stop() }
        let before = ProcFacts(pid: pid)
        try? await Task.sleep(for: .seconds(10))
        let after = ProcFacts(pid: pid)
        benchmark.measurement(rss, after.residentBytes / 1_048_576)
        benchmark.measurement(cpu, ProcFacts.percent(from: before, to: after, seconds: 10))
        // Another process writes to the store every second; the console re-reads it each time.
        guard let writer = await benchmark.step("opening the store", { try await StoreLocation(parsing: store).open() }) else {
            return await console.stop()
        }
        for index in 0..<10 {
            _ = await benchmark.step("writing to the store") { try await writer.insert(NodePool(name: "churn-\(ObjectID.generate())-\(index)")) }
            try? await Task.sleep(for: .seconds(1))
        }
        let busy = ProcFacts(pid: pid)
        benchmark.measurement(peak, busy.peakResidentBytes / 1_048_576)
        benchmark.measurement(busyCPU, ProcFacts.percent(from: after, to: busy, seconds: 10))
        await console.stop()
    }
}

/// The console a benchmark's iterations share, started by its setup.
enum RunningConsole {
    nonisolated(unsafe) static var shared: ConsoleUnderTest?
}

/// Processes, nodes and a store for the console to show.
enum ProcessWorkload {
    static let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("defpi-console-bench-\(ObjectID.generate())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static let nodes = (0..<20).map { index in
        Node(id: "node-\(index)", kind: .public, dockerId: "docker-\(index)", hostname: "host-\(index)", status: .ready,
             architecture: .x86_64, nodePoolId: "pool-1")
    }

    /// `count` processes of 10 users, of every state, spread over 20 nodes.
    static func processes(count: Int) -> [ServiceProcess] {
        let states = ProcessState.allCases
        return (0..<count).map { index in
            ServiceProcess(name: "meter-\(index)", userId: String(format: "%024x", index % 10 + 1), serviceId: "meter",
                           serviceVersion: "1.2.\(index % 7)", placement: .pool("pool-1"), state: states[index % states.count],
                           dockerId: "svc-\(index)", runningNodeId: "node-\(index % 20)",
                           configuration: [ProcessParameter(key: "INTERVAL", value: "\(index % 60)")])
        }
    }

    static func fill(_ path: String, with processes: [ServiceProcess]) async throws {
        let store = try await StoreLocation(parsing: path).open()
        guard try await store.all(ServiceProcess.self).isEmpty else { return }
        for process in processes { _ = try await store.insert(process) }
    }
}

/// A process's resident memory and CPU time, from /proc.
struct ProcFacts {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    var residentBytes = 0
    var peakResidentBytes = 0
    var cpuTicks = 0

    init(pid: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func bytes(_ field: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") }
            return (line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0) * 1024
        }
        residentBytes = bytes("VmRSS")
        peakResidentBytes = bytes("VmHWM")
        // Fields 14 and 15 (utime, stime) follow the command name in parentheses.
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            cpuTicks = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
        }
    }

    /// The CPU used between two readings `seconds` apart, in percent of one core.
    static func percent(from start: ProcFacts, to end: ProcFacts, seconds: Double) -> Int {
        Int((Double(end.cpuTicks - start.cpuTicks) / ticksPerSecond / seconds * 100).rounded())
    }
}

/// The test bed's swarm: its nodes, and a worker whose availability the benchmark flips.
final class SwarmProbe: @unchecked Sendable {
    nonisolated(unsafe) private static var probe: SwarmProbe?
    let docker: DockerClient
    let hostnames: [String]
    let workerId: String
    let workerHostname: String
    private var paused = false

    static func shared(socket: String) async throws -> SwarmProbe {
        if let probe { return probe }
        let docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        let nodes = try await docker.nodes()
        let worker = nodes.first { $0.spec.role == "worker" }!
        let created = SwarmProbe(docker: docker, hostnames: nodes.map(\.description.hostname), workerId: worker.id,
                                 workerHostname: worker.description.hostname)
        probe = created
        return created
    }

    private init(docker: DockerClient, hostnames: [String], workerId: String, workerHostname: String) {
        self.docker = docker
        self.hostnames = hostnames
        self.workerId = workerId
        self.workerHostname = workerHostname
    }

    /// Flips the worker between active and pause; returns the new availability.
    func flipWorker() async throws -> String {
        paused.toggle()
        let node = try await docker.node(workerId)
        var spec = node.spec
        spec.availability = paused ? "pause" : "active"
        try await docker.updateNode(workerId, version: node.version, spec: spec)
        return spec.availability
    }

    func restoreWorker() async throws {
        if paused { _ = try await flipWorker() }
    }
}
