import Foundation
import Logging

/// Puts a process on the swarm: chooses its node (keeping the one it has while that node stays
/// eligible), makes sure its owner's network exists and the gateway is on it, and creates or
/// updates its swarm service. Every step re-reads the process and asks Docker what exists, so
/// running it again, after a crash or on another engine, changes nothing that is already right.
struct ProcessDeployment: Sendable {
    let store: any Store
    let docker: DockerClient
    let services: ServiceManager
    let networks: OwnerNetworks
    let record: ProcessRecord
    private let logger = Logger(label: "defpi.processes")

    init(store: any Store, docker: DockerClient, services: ServiceManager, gateway: GatewayManager, record: ProcessRecord) {
        self.store = store
        self.docker = docker
        self.services = services
        networks = OwnerNetworks(store: store, docker: docker, gateway: gateway)
        self.record = record
    }

    /// The placement of processes over `nodes` as the store has it now, for `owner`.
    func placement(for ownerId: String, excluding processId: String? = nil) async throws -> Placement {
        let processes = try await store.all(ServiceProcess.self).filter { $0.id != processId }
        var load: [String: Int] = [:], ownerLoad: [String: Int] = [:]
        for process in processes {
            guard let node = process.runningNodeId else { continue }
            load[node, default: 0] += 1
            if process.userId == ownerId { ownerLoad[node, default: 0] += 1 }
        }
        return Placement(nodes: try await store.all(Node.self), load: load, ownerLoad: ownerLoad)
    }

    /// Deploys the process as it is stored now. With `restartIfStopped`, a suspended process
    /// whose swarm service is already as wanted is started again (its container exits when it
    /// suspends, and an unchanged service would leave it so).
    func deploy(_ processId: String, lease: ChangeLease, restartIfStopped: Bool = false) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
            throw ChangeObsolete.missing("the process no longer exists")
        }
        guard process.state != .terminated else { throw ChangeObsolete("process \(process.name) was terminated") }
        guard let owner = try await store.fetch(User.self, id: process.userId) else {
            throw ChangeObsolete.missing("the owner of process \(process.name) no longer exists")
        }
        let service = try await services.service(process.serviceId, version: process.serviceVersion)
        let node = try await chooseNode(for: process, owner: owner, service: service)
        let spec = try ProcessServiceSpec.make(process, owner: owner, node: node, service: service,
                                               noNewPrivileges: try await docker.speaks(atLeast: ProcessServiceSpec.noNewPrivilegesAPIVersion))

        try lease.check()
        try await networks.prepare(for: owner.id)
        CrashPoint.deployNetworkReady.reached()
        try lease.check()
        let dockerId: String
        if let existing = try await docker.service(process.id) {
            dockerId = existing.id
            var wanted = spec
            wanted.taskTemplate.forceUpdate = existing.spec.taskTemplate.forceUpdate
            if !ProcessServiceSpec.matches(existing.spec, spec) {
                try await docker.updateService(existing.id, version: existing.version, spec: wanted)
                logger.info("process \(process.name): swarm service updated for node \(node.name)")
            } else if restartIfStopped, process.state == .suspended {
                // Its container answered SUSPENDED and exits (or has): a new one starts. Until one
                // calls back the process stays suspended, so a repeat restarts a container that
                // has not resumed yet, and loses nothing.
                wanted.taskTemplate.forceUpdate = (wanted.taskTemplate.forceUpdate ?? 0) + 1
                try await docker.updateService(existing.id, version: existing.version, spec: wanted)
                logger.info("process \(process.name): started again on node \(node.name)")
            }
        } else {
            dockerId = try await docker.createService(spec)
            logger.info("process \(process.name): swarm service created on node \(node.name)")
        }
        CrashPoint.deployServiceCreated.reached()
        try await record.update(process.id) {
            $0.dockerId = dockerId
            $0.runningNodeId = node.id
        }
    }

    /// Whether a container of the process runs now, so there is someone to talk to.
    func hasRunningContainer(_ process: ServiceProcess) async throws -> Bool {
        try await Self.hasRunningContainer(process, docker: docker)
    }

    static func hasRunningContainer(_ process: ServiceProcess, docker: DockerClient) async throws -> Bool {
        guard try await docker.service(process.id) != nil else { return false }
        return try await docker.tasks(service: process.id, desiredState: "running").contains { $0.status.state == "running" }
    }

    /// The nodes of `target` that may run `service` for `owner`, best first (`processId`'s own
    /// load left out); none throws `noEligibleNode` with every node's reason.
    func eligibleNodes(_ target: PlacementTarget, owner: User, service: Service, excluding processId: String? = nil)
        async throws -> [Node]
    {
        let placement = try await placement(for: owner.id, excluding: processId)
        let decision = placement.decide(target, owner: owner, service: service)
        guard !decision.eligible.isEmpty else {
            throw ProcessError.noEligibleNode(target: try await describe(target), reasons: decision.reasons)
        }
        return decision.eligible
    }

    /// How messages name a target: "in pool edge", "on node tb-w1", "anywhere".
    func describe(_ target: PlacementTarget) async throws -> String {
        Placement.describe(target, nodes: try await store.all(Node.self), pools: try await store.all(NodePool.self))
    }

    /// The node the process runs on: the one it has while that stays eligible, else the best
    /// eligible node of its target. None eligible fails this attempt with every node's reason
    /// (nodes come back, so the change is retried).
    private func chooseNode(for process: ServiceProcess, owner: User, service: Service) async throws -> Node {
        let eligible = try await eligibleNodes(process.placement, owner: owner, service: service, excluding: process.id)
        return eligible.first { $0.id == process.runningNodeId } ?? eligible[0]
    }
}

/// Deploys a process on the swarm (see `ProcessDeployment`); the process then calls the
/// Engine back and gets its configuration.
struct DeployProcessStep: ChangeStep {
    typealias Payload = ProcessSubject

    static let kind: PendingChangeKind = "DEPLOY_PROCESS"

    let deployment: ProcessDeployment

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await deployment.deploy(payload.processId, lease: lease)
    }
}
