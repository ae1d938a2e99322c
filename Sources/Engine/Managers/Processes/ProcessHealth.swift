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
    /// that changed.
    func check(only processId: String? = nil) async throws {
        let processes = try await store.all(ServiceProcess.self, processId.map { .where("id", is: $0) } ?? .all)
            .filter { $0.dockerId != nil }
        guard !processes.isEmpty else { return }
        let tasks = Dictionary(grouping: processId == nil ? try await docker.allTasks()
                                   : try await docker.tasks(service: processes[0].dockerId!), by: \.serviceID)
        let nodes = Dictionary(try await store.all(Node.self).map { ($0.id, $0) }) { first, _ in first }
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

    /// The state and problem Docker's view gives `process`, when they differ from its own; nil
    /// when Docker has nothing to add (the protocol states are the process's to tell).
    static func assess(_ process: ServiceProcess, tasks: [DockerTask], node: Node?) -> (ProcessState, String?)? {
        guard ![.terminated, .suspended].contains(process.state) else { return nil }
        let wanted: (ProcessState, String?)?
        if let node, node.status != .ready {
            wanted = (.nodeDown, "node \(node.name) is \(node.status.rawValue.lowercased())")
        } else if let latest = tasks.max(by: { ($0.updatedAt ?? "") < ($1.updatedAt ?? "") }) {
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
