import Foundation
import Logging

/// Processes: deploying a service version as a process of a user, on a node defpi or the
/// operator chooses, with its own configuration; terminating it; and what the process says when
/// it starts. Every change goes through the queue; this manager checks who asks and what.
public final class ProcessManager: Sendable {
    let store: any Store
    private let docker: DockerClient
    private let queue: PendingChangeManager
    private let users: UserManager
    private let quotas: QuotaManager
    private let hostPaths: HostPathManager
    let services: ServiceManager
    private let notifications: EngineNotifications
    let control: ProcessControl
    let deployment: ProcessDeployment
    private let health: ProcessHealth
    private let lookup: ProcessLookup
    private let connections: ConnectionManager
    let rollback: RelocationRollback
    private let logger = Logger(label: "defpi.processes")

    init(store: any Store, docker: DockerClient, queue: PendingChangeManager, users: UserManager, quotas: QuotaManager,
         hostPaths: HostPathManager, services: ServiceManager,
         gateway: GatewayManager, connector: ProcessConnector, connections: ConnectionManager,
         notifications: EngineNotifications) {
        self.store = store
        self.connections = connections
        lookup = ProcessLookup(store: store)
        self.docker = docker
        self.queue = queue
        self.users = users
        self.quotas = quotas
        self.hostPaths = hostPaths
        self.services = services
        self.notifications = notifications
        let record = ProcessRecord(store: store, notifications: notifications)
        control = ProcessControl(store: store, connector: connector, notifications: notifications)
        deployment = ProcessDeployment(store: store, docker: docker, services: services, gateway: gateway, record: record)
        health = ProcessHealth(store: store, docker: docker, record: record)
        queue.register(SendConfigurationStep(control: control, connections: connections))
        queue.register(DeployProcessStep(deployment: deployment))
        rollback = RelocationRollback(store: store, queue: queue, notifications: notifications)
        queue.register(RelocateProcessStep(relocation: ProcessRelocation(
            store: store, control: control, deployment: deployment, record: record, connections: connections),
            rollback: rollback))
        queue.register(UpdateConfigurationStep(configuration: ProcessConfiguration(store: store, control: control, record: record)))
        queue.register(TerminateProcessStep(termination: ProcessTermination(
            store: store, docker: docker, control: control, notifications: notifications)))
    }

    // MARK: Reading

    /// The processes `caller` may see, by name: all for an admin, their own for a user.
    public func processes(by caller: Caller) async throws -> [ServiceProcess] {
        try await lookup.processes(by: caller)
    }

    /// The process a reference names among those `caller` may see: its id, its name, or a unique
    /// id prefix. Another user's process is not found, never forbidden.
    public func process(_ reference: String, by caller: Caller) async throws -> ServiceProcess {
        try await lookup.process(reference, by: caller)
    }

    // MARK: Creating and terminating

    /// Checks `request` and stores the process (STARTING) together with the change that deploys
    /// it; returns both. Nothing is written when anything is wrong.
    public func create(_ request: ProcessRequest, by caller: Caller) async throws -> (process: ServiceProcess, change: PendingChange) {
        let owner = try await owner(request.owner, for: caller)
        let service = try await services.service(request.serviceId, version: request.version)
        if let problem = service.problem {
            throw ProcessError.unusableVersion(serviceId: service.id, version: service.version, problem: problem)
        }
        try ProcessRules.checkConfiguration(request.configuration)
        try ProcessRules.checkResources(memoryBytes: request.memoryBytes, nanoCPUs: request.nanoCPUs, ports: request.ports)
        let limits = try await quotas.limits(for: owner, memoryBytes: request.memoryBytes, nanoCPUs: request.nanoCPUs)
        let target = try await placementTarget(request.target, owner: owner)
        try TenancyRules.check(mounts: request.mounts, ports: request.ports, allowedPorts: try await quotas.ports(for: owner),
                               hostPaths: try await hostPaths.grants(for: target), memoryBytes: limits.memoryBytes,
                               admin: caller.isAdmin)
        try await checkPortsFree(request.ports, by: caller)
        let mine = try await store.all(ServiceProcess.self, .where("userId", is: owner.id))
        let name = try request.name ?? Self.freeName(for: service.id, among: mine)
        try ProcessRules.checkName(name)
        guard !mine.contains(where: { $0.name == name }) else { throw ProcessError.nameTaken(name: name, owner: owner.username) }
        // Refused now, with every node's reason, rather than retried in the queue for ever.
        _ = try await deployment.eligibleNodes(target, owner: owner, service: service)

        let process = ServiceProcess(
            name: name, userId: owner.id, serviceId: service.id, serviceVersion: service.version, placement: target,
            configuration: request.configuration, maxMemoryBytes: limits.memoryBytes, maxNanoCPUs: limits.nanoCPUs,
            mountPoints: request.mounts, exposePorts: request.ports)
        // Last, just before the process is stored: the claim counts until it is.
        try await quotas.claim(processId: process.id, owner: owner, memoryBytes: limits.memoryBytes, nanoCPUs: limits.nanoCPUs)
        CrashPoint.createQuotaClaimed.reached()
        var intent = StoreBatch()
        intent.insert(process)
        let change: PendingChange
        do {
            change = try await queue.enqueue(try PendingChange(
                DeployProcessStep.self, .init(processId: process.id),
                description: "process \(name): deploy \(service.id) \(service.version)", resources: [process.id],
                userId: owner.id, createdBy: caller.name), with: intent)
            await quotas.release(processId: process.id, owner: owner)
        } catch {
            await quotas.release(processId: process.id, owner: owner)
            // The store holds names unique per user: of two creations at once, one gets this.
            if case StoreError.duplicate(.process, field: "name", _) = error { throw ProcessError.nameTaken(name: name, owner: owner.username) }
            throw error
        }
        notifications.publish(.entity(.process, id: process.id, change: .added))
        await store.audit(AuditEvent(actor: caller.name, action: "process.created", target: process.id,
                                     detail: "\(name): \(service.id) \(service.version) for \(owner.username)"), logger: logger)
        return (process.atRevision(1), change)
    }

    /// Changes a process's configuration: `set` replaces or adds keys, `unset` removes them. The
    /// result is checked, stored as pending with the change that sends it, and applied once the
    /// process acknowledges it. A change already waiting picks up the newest pending configuration.
    public func configure(_ reference: String, set: [ProcessParameter], unset: [String], by caller: Caller) async throws
        -> PendingChange
    {
        guard !set.isEmpty || !unset.isEmpty else { throw ProcessError.nothingToChange }
        var process = try await process(reference, by: caller)
        try ProcessRules.checkConfiguration(set)
        let wanted = ProcessConfiguration.merged(process.pendingConfiguration ?? process.configuration, set: set, unset: unset)
        try ProcessRules.checkConfiguration(wanted)
        process.pendingConfiguration = wanted
        var intent = StoreBatch()
        intent.update(process)
        let change: PendingChange
        if let waiting = try await queue.openChange(of: UpdateConfigurationStep.kind, on: process.id) {
            try await store.write(intent)
            change = waiting
        } else {
            change = try await queue.enqueue(try PendingChange(
                UpdateConfigurationStep.self, .init(processId: process.id),
                description: "process \(process.name): update its configuration", resources: [process.id],
                userId: process.userId, createdBy: caller.name), with: intent)
        }
        notifications.publish(.entity(.process, id: process.id, change: .modified))
        return change
    }

    /// Upgrades or downgrades a process to `version`, or moves it to `target`, or both, keeping
    /// its configuration and state: it is suspended, its state saved, its swarm service replaced,
    /// and it resumes from the state. Refused when the version cannot be deployed or no node of
    /// the target can run it.
    public func relocate(_ reference: String, version: String?, target: PlacementRequest?, by caller: Caller) async throws
        -> PendingChange
    {
        let process = try await process(reference, by: caller)
        if let busy = process.relocation {
            throw ProcessError.busy(process: process.name, change: "a relocation to \(busy.version)")
        }
        let service = try await services.service(process.serviceId, version: version ?? process.serviceVersion)
        if let problem = service.problem {
            throw ProcessError.unusableVersion(serviceId: service.id, version: service.version, problem: problem)
        }
        guard let owner = try await store.fetch(User.self, id: process.userId) else {
            throw LookupError.notFound(what: "user", reference: process.userId)
        }
        var placement = process.placement
        if let target { placement = try await placementTarget(target, owner: owner) }
        if !caller.isAdmin, placement != process.placement {
            // A tenant takes a host path only to where it is allowed too.
            let grants = try await hostPaths.grants(for: placement)
            for mount in process.mountPoints where mount.resolvedType == .bind { try TenancyRules.checkAllowed(mount, in: grants) }
        }
        _ = try await deployment.eligibleNodes(placement, owner: owner, service: service, excluding: process.id)
        var relocating = process
        relocating.relocation = Relocation(version: service.version, placement: placement,
                                           from: .init(version: process.serviceVersion, placement: process.placement))
        var intent = StoreBatch()
        intent.update(relocating)
        let what = version == nil ? "move \(try await deployment.describe(placement))"
            : "\(VersionOrder.newestFirst(service.version, process.serviceVersion) ? "upgrade" : "downgrade") to \(service.version)"
        let change = try await queue.enqueue(try PendingChange(
            RelocateProcessStep.self, .init(processId: process.id), description: "process \(process.name): \(what)",
            resources: [process.id], userId: process.userId, createdBy: caller.name), with: intent)
        notifications.publish(.entity(.process, id: process.id, change: .modified))
        return change
    }

    /// Moves every process its owner has on private node `nodeReference` to `destination` (a
    /// pool's name or id, else a node), so the node can be declassified or given away (admins):
    /// each is relocated as `relocate` does it, and the node's reclassification, refused while
    /// they are placed there, is allowed once each has its move queued. Returns the moves.
    public func evacuate(node nodeReference: String, to destination: String, by caller: Caller) async throws -> [PendingChange] {
        try caller.requireAdmin(to: "move a node's processes")
        let target: PlacementRequest = try await store.all(NodePool.self).contains { $0.name == destination || $0.id == destination }
            ? .pool(destination) : .node(destination)
        guard let node = try await store.all(Node.self).first(where: { [$0.id, $0.name, $0.hostname, $0.dockerId].contains(nodeReference) }),
              node.kind == .private, let owner = node.userId else { return [] }
        let placed = try await store.all(ServiceProcess.self, .where("userId", is: owner))
            .filter { $0.state != .terminated && $0.relocation == nil && ($0.privateNodeId == node.id || $0.runningNodeId == node.id) }
        var moves: [PendingChange] = []
        for process in placed.sorted(by: { $0.name < $1.name }) {
            moves.append(try await relocate(process.id, version: nil, target: target, by: caller))
        }
        return moves
    }

    /// Queues the end of a process: its connections removed first, then TERMINATE, its swarm
    /// service removed, its record deleted. With `force`, a process that refuses TERMINATE or does
    /// not answer is removed all the same (a waiting unforced order is cancelled for it).
    public func terminate(_ reference: String, force: Bool = false, by caller: Caller) async throws -> PendingChange {
        let process = try await process(reference, by: caller)
        try await connections.removeAll(of: process, by: caller)
        if let waiting = try await queue.openChange(of: TerminateProcessStep.kind, on: process.id) {
            guard force, try waiting.payload.decode(as: TerminationOrder.self).force != true else { return waiting }
            _ = try await queue.cancel(waiting.id, by: caller)
        }
        return try await queue.enqueue(try PendingChange(
            TerminateProcessStep.self, .init(processId: process.id, force: force),
            description: "process \(process.name): \(force ? "remove (forced)" : "terminate")",
            resources: [process.id], userId: process.userId, createdBy: caller.name))
    }

    /// Refuses a host port another process publishes already, naming it only to a caller who may see it.
    private func checkPortsFree(_ ports: [ExposePort], by caller: Caller) async throws {
        guard !ports.isEmpty else { return }
        let wanted = Set(ports.map(\.external))
        for process in try await store.all(ServiceProcess.self) {
            if let port = process.exposePorts.first(where: { wanted.contains($0.external) }) {
                throw TenancyError.portTaken(port.external, process: caller.maySee(process) ? process.name : nil)
            }
        }
    }

    /// The owner a request names, which the caller may act for: themselves, or anyone for an admin.
    func owner(_ reference: String?, for caller: Caller) async throws -> User {
        if let reference {
            let owner = try await users.user(reference, by: caller)
            guard caller.isAdmin || owner.id == caller.userId else { throw ProcessError.notYours(action: "deploy for another user") }
            return owner
        }
        guard let userId = caller.userId else {
            throw ProcessError.notYours(action: "deploy without an owner; name one with --user")
        }
        return try await users.user(userId, by: caller)
    }

    /// The stored target for a requested one: a node must be public or the owner's private node.
    private func placementTarget(_ request: PlacementRequest, owner: User) async throws -> PlacementTarget {
        switch request {
        case .automatic:
            return .automatic
        case .pool(let reference):
            return .pool(try await PoolManager.find(reference, in: store).id)
        case .node(let reference):
            let caller = Caller(user: owner)
            let node = try References.resolve(reference, in: try await store.all(Node.self).filter { caller.maySee($0) },
                                              what: "node", key: { [$0.id, $0.dockerId, $0.name, $0.hostname] },
                                              prefix: { $0.dockerId }, label: { $0.name })
            return node.kind == .private ? .privateNode(node.id) : .publicNode(node.id)
        }
    }

    /// `meter-1`, `meter-2` ...: the first not taken among `processes`.
    static func freeName(for serviceId: String, among processes: [ServiceProcess]) throws -> String {
        let base = String(serviceId.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(40))
        let taken = Set(processes.map(\.name))
        return (1...).lazy.map { "\(base)-\($0)" }.first { !taken.contains($0) }!
    }

    /// Waits until the process runs, or `timeout` passes, carrying out the changes it queues
    /// meanwhile (its configuration, once it has called back) when nobody else does; returns it
    /// as it stands then. The trigger reaches this engine only while it serves the API socket.
    public func waitUntilRunning(_ processId: String, timeout: Duration) async throws -> ServiceProcess {
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
                throw LookupError.notFound(what: "process", reference: processId)
            }
            if process.state == .running || ContinuousClock.now >= deadline { return process }
            // No engine may be watching Docker for this one: look at its task too.
            try await health.check(only: processId)
            if let sending = try await queue.openChange(of: SendConfigurationStep.kind, on: processId),
               try await queue.runNext(only: sending.id) {
                continue
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// A process's recent output (the last `tail` lines), then, with `follow`, what it writes
    /// until the task is cancelled; from Docker, wherever the process runs.
    public func logs(_ reference: String, tail: Int, follow: Bool, by caller: Caller,
                     onLine: @escaping @Sendable (DockerLogLine) -> Void) async throws {
        let process = try await process(reference, by: caller)
        guard let service = process.dockerId else { throw ProcessError.notDeployed(process.name) }
        try await docker.streamLogs(service: service, tail: tail, follow: follow, onLine: onLine)
    }

    /// A process's audit trail, oldest first: who created, configured, moved it, and how each of
    /// its changes went. Kept after the process is terminated, but then only an admin can read
    /// it (by the process's id).
    public func history(_ reference: String, by caller: Caller) async throws -> [AuditEvent] {
        let id: String
        do {
            id = try await process(reference, by: caller).id
        } catch where caller.isAdmin && ObjectID.isValid(reference) {
            id = reference
        }
        return try await store.list(AuditEvent.self, StoreQuery(filter: .where("target", is: id), sort: [StoreSort("time")])).items
    }

    /// Repairs what ended changes and crashes left (part of the engine's periodic re-sync): every
    /// process whose relocation ended without taking effect is taken back (the relocation step
    /// does it at once when its change ends), and the networks of owners who have had no
    /// process for `networkGrace` are let go.
    func repair(networkGrace: Duration = OwnerNetworks.idleGrace) async throws {
        try await rollback.rollBackAbandoned()
        try await deployment.networks.releaseIdle(after: networkGrace)
    }

    /// Folds what Docker tells about every process (failing tasks, nodes down) into its state.
    func checkHealth() async {
        do { try await health.check() } catch { logger.warning("cannot read the processes' tasks: \(error)") }
    }

    // MARK: What processes say

    /// A process called `PUT /process/trigger/{id}` with its token: it has started and listens.
    /// Marks it INITIALIZING and queues sending it its configuration (or saved state), unless
    /// that already waits; refuses an unknown process or a wrong token.
    @discardableResult
    public func triggered(processId: String, token: String) async throws -> PendingChange {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else {
            throw TriggerRefusal.unknownProcess(processId)
        }
        guard ProcessControl.constantTimeEqual(process.token, token) else { throw TriggerRefusal.wrongToken(processId) }
        logger.info("process \(process.name) (\(processId)) started and called back")
        if process.state != .initializing && process.state != .terminated {
            try await ProcessRecord(store: store, notifications: notifications).update(processId) {
                $0.state = .initializing
                $0.problem = nil
            }
        }
        if let waiting = try await queue.openChange(of: SendConfigurationStep.kind, on: processId) { return waiting }
        return try await queue.enqueue(PendingChange(
            SendConfigurationStep.self, .init(processId: processId),
            description: "process \(process.name): send its \(process.suspendedState == nil ? "configuration" : "saved state")",
            resources: [processId], userId: process.userId, createdBy: "process \(process.name)"))
    }
}
