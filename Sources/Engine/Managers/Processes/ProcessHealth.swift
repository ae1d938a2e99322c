import Foundation
import Logging

/// What Docker tells about processes, folded into their state within seconds: `FAILING` while a
/// task cannot start (an image that cannot be pulled, no node that fits) or its container keeps
/// failing, `NODE_DOWN` while its node is down; once the container runs again the process is
/// `STARTING` until it calls back. Docker 20.10 sends no task events, so the tasks of every
/// process are read in one call, every few seconds.
struct ProcessHealth: Sendable {
    let store: any Store
    let docker: DockerClient
    let record: ProcessRecord
    private let logger = Logger(label: "defpi.processes")

    init(store: any Store, docker: DockerClient, record: ProcessRecord) {
        self.store = store
        self.docker = docker
        self.record = record
    }

    /// Reads every process's tasks and node (or only `processId`'s), and records each state
    /// that changed. Only the processes Docker may have news of are read from the store: those
    /// whose newest task failed or cannot be placed, those on a node that is not ready, and
    /// those FAILING or NODE_DOWN whose container runs again — a quiet cluster of 10,000
    /// processes costs one Docker call and a query that matches nothing.
    func check(only processId: String? = nil) async throws {
        let nodes = Dictionary(try await store.all(Node.self).map { ($0.id, $0) }) { first, _ in first }
        let tasks: [String: [DockerTask]]
        let processes: [ServiceProcess]
        if let processId {
            processes = try await store.all(ServiceProcess.self, .where("id", is: processId)).filter { $0.dockerId != nil }
            guard let service = processes.first?.dockerId else { return }
            tasks = [service: try await docker.tasks(service: service)]
        } else {
            tasks = Dictionary(grouping: try await docker.allTasks(), by: \.serviceID)
            let newest = tasks.compactMapValues(Self.newest)
            let troubled = newest.filter { Self.isTrouble($0.value) }.keys
            let running = newest.filter { $0.value.status.state == "running" }.keys
            let downNodes = nodes.values.filter { $0.status != .ready }.map(\.id)
            processes = try await store.all(ServiceProcess.self, .or([
                .isIn("dockerId", troubled.map { .string($0) }),
                .isIn("runningNodeId", downNodes.map { .string($0) }),
                .and([.isIn("dockerId", running.map { .string($0) }),
                      .isIn("state", [ProcessState.failing, .nodeDown].map { .string($0.rawValue) })]),
            ])).filter { $0.dockerId != nil }
        }
        for process in processes {
            let node = process.runningNodeId.flatMap { nodes[$0] }
            guard let (state, problem) = Self.assess(process, tasks: tasks[process.dockerId ?? ""] ?? [], node: node) else {
                continue
            }
            logger.info("process \(process.name): \(state.rawValue)\(problem.map { " (\($0))" } ?? "")")
            try await record.update(process.id) { latest in
                // Only over what this assessment was made from: a trigger or a reply in between wins.
                guard latest.state == process.state else { return }
                latest.state = state
                latest.problem = problem
            }
        }
    }

    private static func newest(of tasks: [DockerTask]) -> DockerTask? {
        tasks.max(by: { ($0.updatedAt ?? "") < ($1.updatedAt ?? "") })
    }

    /// Whether a task says its process is failing, whatever the process's state.
    private static func isTrouble(_ task: DockerTask) -> Bool {
        assess(task, current: .running).map { $0.0 == .failing } ?? false
    }

    /// The state and problem Docker's view gives `process`, when they differ from its own; nil
    /// when Docker has nothing to add (the protocol states are the process's to tell).
    static func assess(_ process: ServiceProcess, tasks: [DockerTask], node: Node?) -> (ProcessState, String?)? {
        guard ![.terminated, .suspended].contains(process.state) else { return nil }
        let wanted: (ProcessState, String?)?
        if let node, node.status != .ready {
            wanted = (.nodeDown, "node \(node.name) is \(node.status.rawValue.lowercased())")
        } else if let latest = newest(of: tasks) {
            wanted = assess(latest, current: process.state)
        } else {
            wanted = nil
        }
        guard let wanted, wanted.0 != process.state || wanted.1 != process.problem else { return nil }
        return wanted
    }

    /// What the newest task says: a failure, a container running again after one, or nothing.
    private static func assess(_ task: DockerTask, current: ProcessState) -> (ProcessState, String?)? {
        let why = [task.status.error, task.status.message].compactMap { $0 }.first { !$0.isEmpty }
        switch task.status.state {
        case "failed", "rejected":
            return (.failing, "its task \(task.status.state): \(why ?? "no reason given")")
        case "pending" where task.status.error?.isEmpty == false:
            return (.failing, "its task cannot be placed: \(task.status.error!)")
        case "running" where current == .failing || current == .nodeDown:
            return (.starting, nil)
        default:
            return nil
        }
    }
}
