import Foundation
import Logging

/// Connections between processes' interfaces: defpi alone makes them. It refuses what would
/// not work (and says why), chooses the interface versions and the port, and has each side told
/// through the queue once its process runs; a process that starts again is told again, and a
/// removed connection is ended on both sides before its record goes.
public final class ConnectionManager: Sendable {
    private let store: any Store
    private let queue: PendingChangeManager
    private let services: ServiceManager
    private let lookup: ProcessLookup
    private let endpoints: ConnectionEndpoints
    private let creation: ConnectionCreation
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.connections")

    init(store: any Store, queue: PendingChangeManager, services: ServiceManager, connector: ProcessConnector,
         notifications: EngineNotifications) {
        self.store = store
        self.queue = queue
        self.services = services
        self.notifications = notifications
        lookup = ProcessLookup(store: store)
        endpoints = ConnectionEndpoints(store: store, services: services, connector: connector, notifications: notifications)
        creation = ConnectionCreation(store: store, queue: queue, notifications: notifications, logger: logger)
        queue.register(ConnectEndpointStep(endpoints: endpoints))
        queue.register(AutoConnectStep(connections: self))
        queue.register(DisconnectEndpointStep(endpoints: endpoints, connections: self))
    }

    // MARK: Reading

    /// The connections `caller` may see (those of their processes; every one for an admin),
    /// optionally only those of one process, oldest first.
    public func connections(by caller: Caller, process reference: String? = nil) async throws -> [Connection] {
        var connections: [Connection]
        if let reference {
            connections = try await self.connections(of: try await lookup.process(reference, by: caller).id)
        } else if caller.isAdmin {
            connections = try await store.all(Connection.self)
        } else {
            connections = try await store.all(Connection.self, .where("userId", is: caller.userId ?? ""))
        }
        connections.sort { ($0.created ?? .distantPast, $0.id) < ($1.created ?? .distantPast, $1.id) }
        return connections
    }

    /// The connection an id (or a unique id prefix) names among those `caller` may see.
    public func connection(_ reference: String, by caller: Caller) async throws -> Connection {
        try References.resolve(reference, in: try await connections(by: caller), what: "connection", key: { [$0.id] },
                               prefix: { $0.id }, label: { $0.id })
    }

    /// Labels (`m1.readings`) for the ends of the connections `caller` may see.
    public func endpointLabels(by caller: Caller) async throws -> EndpointLabels {
        EndpointLabels(processes: try await lookup.processes(by: caller))
    }

    /// The connections with an end at `processId`.
    func connections(of processId: String) async throws -> [Connection] {
        try await store.all(Connection.self, .connections(of: processId))
    }

    /// Before `processId` is suspended for a move or an upgrade: each running side of its
    /// connections is told to suspend (its peer then waits instead of retrying), and is told to
    /// resume once the process runs again.
    func suspendAll(of processId: String, lease: ChangeLease) async throws {
        try await endpoints.suspendAll(of: processId, lease: lease)
    }

    /// For one interface of a process: every interface of the owner's other processes, as
    /// compatible, incompatible or full (each with why), or connected already.
    public func candidates(for reference: InterfaceReference, by caller: Caller) async throws -> [ConnectionCandidate] {
        let side = try await side(reference, by: caller)
        let others = try await store.all(ServiceProcess.self, .where("userId", is: side.process.userId))
            .filter { $0.id != side.process.id && $0.state != .terminated }
            .sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        let existing = try await store.all(Connection.self, .where("userId", is: side.process.userId))
        let labels = EndpointLabels(processes: others + [side.process])
        var candidates: [ConnectionCandidate] = []
        for process in others {
            guard let service = try? await services.service(process.serviceId, version: process.serviceVersion) else { continue }
            for interface in service.interfaces {
                let other = ConnectionSide(process: process, service: service, interface: interface)
                candidates.append(ConnectionCandidate(other, fitting: side, existing: existing, labels: labels.label))
            }
        }
        return candidates
    }

    // MARK: Creating and removing

    /// Checks and stores a connection between two interfaces, with the changes that tell each
    /// side; nothing is written when a rule is broken.
    public func create(_ first: InterfaceReference, _ second: InterfaceReference, by caller: Caller) async throws
        -> (connection: Connection, changes: [PendingChange])
    {
        let a = try await side(first, by: caller)
        let b = try await side(second, by: caller)
        return try await creation.create(a, b, actor: caller.name)
    }

    /// Queues the end of a connection: both sides are told, then its record goes.
    public func remove(_ reference: String, by caller: Caller) async throws -> [PendingChange] {
        try await remove(try await connection(reference, by: caller), actor: caller.name)
    }

    /// Removes every connection of `process` (before it is terminated). A provisional one is its
    /// creation's to confirm or take back; once confirmed, the re-sync removes it (its process gone).
    func removeAll(of process: ServiceProcess, by caller: Caller) async throws {
        for connection in try await connections(of: process.id) where !connection.removing && !connection.provisional {
            _ = try await remove(connection, actor: caller.name)
        }
    }

    private func remove(_ connection: Connection, actor: String) async throws -> [PendingChange] {
        guard !connection.provisional else { throw ConnectionError.stillBeingMade(connection: connection.id) }
        if connection.removing {
            return try await connection.endpoints.asyncCompactMap {
                try await self.queue.openChange(of: DisconnectEndpointStep.kind,
                                                on: EndpointSubject.resource(connection.id, $0.processId))
            }
        }
        var removing = connection
        removing.removing = true
        var intent = StoreBatch()
        intent.update(removing)
        let changes = try await queue.enqueue(connection.endpoints.map { endpoint in
            try PendingChange(DisconnectEndpointStep.self, .init(connectionId: connection.id, processId: endpoint.processId),
                              description: "connection \(connection.id): end it at process \(endpoint.processId)",
                              resources: [endpoint.processId, EndpointSubject.resource(connection.id, endpoint.processId)],
                              userId: connection.userId, createdBy: actor)
        }, with: intent)
        notifications.publish(.entity(.connection, id: connection.id, change: .modified))
        await store.audit(AuditEvent(actor: actor, action: "connection.removing", target: connection.id,
                                     detail: connection.pair), logger: logger)
        return changes
    }

    /// Settles a removal none of whose changes is still open, so no connection stays "removing":
    /// one a side failed for good to end is removed all the same (that side's process cannot be
    /// told, and its peer has ended it or is gone); one whose changes were cancelled (or dismissed)
    /// is kept, and its sides that ended it already are told to make it again.
    func settleRemoval(of connectionId: String) async throws {
        guard let connection = try await store.fetch(Connection.self, id: connectionId), connection.removing else { return }
        let changes = try await store.all(PendingChange.self, .and([
            .where("type", is: DisconnectEndpointStep.kind.rawValue),
            .or(connection.endpoints.map { .contains("resources", .string(EndpointSubject.resource(connectionId, $0.processId))) }),
        ]))
        guard !changes.contains(where: { !$0.state.isTerminal }) else { return }
        do {
            if let failed = changes.first(where: { $0.state == .failedPermanently }) {
                guard try await store.delete(Connection.self, id: connectionId, revision: connection.revision) else { return }
                notifications.publish(.entity(.connection, id: connectionId, change: .deleted))
                await store.audit(AuditEvent(actor: "defpi", action: "connection.removed-forced", target: connectionId,
                                             detail: "\(connection.pair): a side could not end it (\(failed.lastError ?? "failed")); removed all the same"),
                                  logger: logger)
                return
            }
            var kept = connection
            kept.removing = false
            for endpoint in kept.endpoints where endpoint.state == .terminated {
                kept.updateEndpoint(of: endpoint.processId) { $0.state = nil; $0.reported = nil }
            }
            let stored = try await store.update(kept)
            notifications.publish(.entity(.connection, id: connectionId, change: .modified))
            await store.audit(AuditEvent(actor: "defpi", action: "connection.kept", target: connectionId,
                                         detail: "\(connection.pair): its removal was cancelled"), logger: logger)
            for endpoint in stored.endpoints where endpoint.state == nil {
                // Not running: told when it runs. A crash before this is repaired by the re-sync (never told).
                if let process = try await store.fetch(ServiceProcess.self, id: endpoint.processId), process.state == .running {
                    try await tell(stored, at: process)
                }
            }
        } catch StoreError.conflict {
            return  // Changed meanwhile: the re-sync looks at it again.
        }
    }

    // MARK: When a process runs

    /// A process has been sent its configuration and runs: each of its connections is made at
    /// its side (again, after a restart or a move) and its running peers are asked how theirs
    /// stand; a connection whose versions no longer fit (after an upgrade) is reported instead.
    /// Then its auto-connect interfaces are connected, one user's at a time.
    func processRuns(_ processId: String) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId) else { return }
        for connection in try await connections(of: processId) where !connection.removing && !connection.provisional {
            guard let peerId = connection.otherEndpoint(of: processId)?.processId,
                  let peer = try await store.fetch(ServiceProcess.self, id: peerId) else { continue }
            guard try await stillFits(connection, process, peer) else { continue }
            try await tell(connection, at: process)
            if peer.state == .running { try await tell(connection, at: peer) }
        }
        if try await queue.openChange(of: AutoConnectStep.kind, on: "auto-connect:\(processId)") == nil {
            try await queue.enqueue(PendingChange(
                AutoConnectStep.self, .init(processId: processId),
                description: "process \(process.name): connect its auto-connect interfaces",
                resources: [process.userId, "auto-connect:\(processId)"], userId: process.userId, createdBy: "defpi"))
        }
    }

    /// Whether the interface versions the connection was made with are still those of both
    /// processes' service versions and compatible; when not, the connection carries the problem
    /// (and the audit says so) until it is removed.
    private func stillFits(_ connection: Connection, _ first: ServiceProcess, _ second: ServiceProcess) async throws -> Bool {
        let services = (try await self.services.service(first.serviceId, version: first.serviceVersion),
                        try await self.services.service(second.serviceId, version: second.serviceVersion))
        let problem = ConnectionRules.problem(of: connection, between: (first, services.0), and: (second, services.1))
        guard problem != connection.problem else { return problem == nil }
        try await EntityRecord<Connection>(store: store, notifications: notifications).update(connection.id) { $0.problem = problem }
        if let problem {
            await store.audit(AuditEvent(actor: "defpi", action: "connection.incompatible", target: connection.id, detail: problem),
                              logger: logger)
        }
        return problem == nil
    }

    /// Repairs what a lost change or a crash left behind: a side of a running process that was
    /// never told, or whose last report is unsettled and old, is told again; a connection whose
    /// process no longer exists is removed, and so is an old provisional one (its creation
    /// stopped), and a removal whose changes all ended is settled. Part of the engine's periodic re-sync.
    func repair(now: Date = Date()) async throws {
        for connection in try await store.all(Connection.self) {
            guard !connection.removing else {
                try await settleRemoval(of: connection.id)
                continue
            }
            guard !connection.provisional else {
                // Never confirmed, so never told: removed once its creation cannot still be running.
                _ = await creation.removeIfLeft(connection, now: now)
                continue
            }
            var processes: [ServiceProcess] = []
            for endpoint in connection.endpoints {
                if let process = try await store.fetch(ServiceProcess.self, id: endpoint.processId) { processes.append(process) }
            }
            guard processes.count == 2 else {
                _ = try await remove(connection, actor: "defpi")
                continue
            }
            for process in processes where process.state == .running {
                let endpoint = connection.endpoint(of: process.id)
                let unsettled = endpoint?.state != .connected && endpoint?.state != .suspended
                let old = (endpoint?.reported).map { now.timeIntervalSince($0) > Self.unsettledAge } ?? true
                if connection.problem == nil, unsettled, old { try await tell(connection, at: process) }
            }
        }
    }

    /// How long a side may report STARTING or INTERRUPTED before the re-sync asks it again.
    static let unsettledAge: TimeInterval = 30

    /// Queues telling `process`'s side of `connection`, unless that waits already.
    private func tell(_ connection: Connection, at process: ServiceProcess) async throws {
        let waiting = try await queue.openChange(of: ConnectEndpointStep.kind, on: EndpointSubject.resource(connection.id, process.id))
        guard waiting == nil else { return }
        try await queue.enqueue(PendingChange(
            ConnectEndpointStep.self, .init(connectionId: connection.id, processId: process.id),
            description: "connection \(connection.id): tell \(process.name) again",
            resources: [process.id, EndpointSubject.resource(connection.id, process.id)],
            userId: process.userId, createdBy: "defpi"))
    }

    /// Connects each auto-connect interface of `processId` to the compatible auto-connect
    /// interfaces of the owner's other processes, within cardinality, never twice.
    func autoConnect(_ processId: String) async throws {
        guard let process = try await store.fetch(ServiceProcess.self, id: processId), process.state != .terminated else { return }
        let service = try await services.service(process.serviceId, version: process.serviceVersion)
        let others = try await store.all(ServiceProcess.self, .where("userId", is: process.userId))
            .filter { $0.id != processId && $0.state != .terminated }
            .sorted { ($0.created ?? .distantPast, $0.id) < ($1.created ?? .distantPast, $1.id) }
        for interface in service.interfaces where interface.autoConnect {
            let side = ConnectionSide(process: process, service: service, interface: interface)
            for other in others {
                guard let otherService = try? await services.service(other.serviceId, version: other.serviceVersion) else { continue }
                for otherInterface in otherService.interfaces where otherInterface.autoConnect {
                    let peer = ConnectionSide(process: other, service: otherService, interface: otherInterface)
                    do {
                        _ = try await creation.create(side, peer, actor: "defpi")
                    } catch let refusal as ConnectionError {
                        // Not refused, only crowded: the step is retried, and connects then.
                        if case .contended = refusal { throw refusal }
                        logger.debug("auto-connect \(side.label) ↔ \(peer.label): \(refusal.userMessage)")
                    }
                }
            }
        }
    }

    // MARK: Resolving

    /// The side a reference names: a process `caller` may see and an interface of its version.
    private func side(_ reference: InterfaceReference, by caller: Caller) async throws -> ConnectionSide {
        let process = try await lookup.process(reference.process, by: caller)
        let service = try await services.service(process.serviceId, version: process.serviceVersion)
        return try ConnectionSide(process: process, service: service, interface: reference.interface)
    }
}

extension StoreFilter {
    /// The connections with an end at one of `processIds`.
    static func connections(of processIds: String...) -> StoreFilter {
        let ids = processIds.map(StoreValue.string)
        return .or([.isIn("endpoint1.processId", ids), .isIn("endpoint2.processId", ids)])
    }
}

/// `m1.readings` for an endpoint, from the processes' names.
public struct EndpointLabels: Sendable {
    let names: [String: String]

    public init(processes: [ServiceProcess]) {
        names = Dictionary(processes.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    /// The process's name and the interface's short name; the process's id when it is not known.
    public func label(_ endpoint: Endpoint) -> String {
        "\(names[endpoint.processId] ?? endpoint.processId).\(endpoint.interfaceId.split(separator: "/").last.map(String.init) ?? endpoint.interfaceId)"
    }
}

/// Connects a process's auto-connect interfaces (see `ConnectionManager.autoConnect`); runs
/// one at a time per user, so two processes starting together do not both make a connection.
struct AutoConnectStep: ChangeStep {
    typealias Payload = ProcessSubject

    static let kind: PendingChangeKind = "AUTO_CONNECT"

    let connections: ConnectionManager

    func run(_ payload: Payload, change: PendingChange, lease: ChangeLease) async throws {
        try await connections.autoConnect(payload.processId)
    }
}

/// An interface of another process, as a candidate to connect to one interface.
public struct ConnectionCandidate: Sendable, Equatable, Codable {
    public enum Fit: String, Sendable, Codable {
        case compatible, incompatible, full, connected
    }

    public var processId: String
    public var process: String
    public var interfaceId: String
    public var interface: String
    public var fit: Fit
    /// Why it does not fit; nil when compatible.
    public var reason: String?

    /// `a1.readings-in`.
    public var label: String { "\(process).\(interface)" }

    public init(processId: String, process: String, interfaceId: String, interface: String, fit: Fit, reason: String? = nil) {
        self.processId = processId
        self.process = process
        self.interfaceId = interfaceId
        self.interface = interface
        self.fit = fit
        self.reason = reason
    }

    init(_ candidate: ConnectionSide, fitting side: ConnectionSide, existing: [Connection], labels: (Endpoint) -> String) {
        processId = candidate.process.id
        process = candidate.process.name
        interfaceId = candidate.interface.id
        interface = ConnectionSide.shortName(candidate.interface)
        do {
            _ = try ConnectionRules.check(side, candidate, existing: existing, labels: labels)
            fit = .compatible
        } catch let refusal as ConnectionError {
            switch refusal {
            case .duplicate: fit = .connected
            case .full: fit = .full
            default: fit = .incompatible
            }
            reason = refusal.userMessage
        } catch {
            fit = .incompatible
            reason = "\(error)"
        }
    }
}
