import Foundation
import Logging

/// Where an Engine finds its parts.
public struct EngineSettings: Sendable {
    public var store: StoreLocation
    public var docker: DockerEndpoint
    public var registry: RegistrySettings
    /// Where the gateway and the Engine's API socket live.
    public var gateway: GatewaySettings
    /// How the Engine reaches processes' management ports: through the gateway, unless set.
    public var processRoute: ProcessRoute
    /// How often a full node re-sync runs besides the event stream (the safety net).
    public var resyncInterval: Duration
    /// How this engine works the queue.
    public var queue: QueueSettings
    /// How often the processes' tasks are read for failures and nodes down (Docker sends no task events).
    public var processCheckInterval: Duration
    /// How long sign-in tokens live.
    public var signIn: SignInSettings

    public init(store: StoreLocation, docker: DockerEndpoint, registry: RegistrySettings,
                gateway: GatewaySettings = .standard, processRoute: ProcessRoute? = nil,
                resyncInterval: Duration = .seconds(30), queue: QueueSettings = QueueSettings(),
                processCheckInterval: Duration = .seconds(3), signIn: SignInSettings = SignInSettings()) {
        self.store = store
        self.docker = docker
        self.registry = registry
        self.gateway = gateway
        self.processRoute = processRoute ?? .gateway(socketPath: gateway.dialSocket)
        self.resyncInterval = resyncInterval
        self.queue = queue
        self.processCheckInterval = processCheckInterval
        self.signIn = signIn
    }
}

/// The one object fronts hold: the managers, wired to the store and the connectors, which stay
/// the Engine's own (fronts act and read through managers, which check the `Caller`).
/// Its `backgroundServices()` keep its view current (Docker events, periodic re-sync) and work
/// the pending-change queue; verbs that act once use the managers without them.
public final class Engine: Sendable {
    public let settings: EngineSettings
    let store: any Store
    let docker: DockerClient
    let registry: RegistryClient
    public let notifications: EngineNotifications
    public let queue: PendingChangeManager
    public let users: UserManager
    public let quotas: QuotaManager
    public let signIn: SignInManager
    public let nodes: NodeManager
    public let pools: PoolManager
    public let hostPaths: HostPathManager
    public let services: ServiceManager
    public let processes: ProcessManager
    public let connections: ConnectionManager
    public let gateway: GatewayManager
    private let logger = Logger(label: "defpi.engine")

    /// Opens the store and builds the connectors; nothing is contacted but the store.
    public convenience init(settings: EngineSettings) async throws {
        try self.init(settings: settings, store: try await settings.store.open())
    }

    /// An Engine on a store opened elsewhere (tests wrap it to count or fail its calls).
    init(settings: EngineSettings, store: any Store) throws {
        self.settings = settings
        let docker = DockerClient(endpoint: settings.docker)
        let registry = try RegistryClient(url: settings.registry.url, credentials: settings.registry.credentials)
        let notifications = EngineNotifications()
        let queue = PendingChangeManager(store: store, notifications: notifications, settings: settings.queue)
        let users = UserManager(store: store, notifications: notifications)
        let quotas = QuotaManager(store: store, users: users, notifications: notifications)
        let nodes = NodeManager(store: store, docker: docker, queue: queue, users: users, notifications: notifications)
        let services = ServiceManager(registry: registry, prefix: settings.registry.prefix)
        let gateway = GatewayManager(settings: settings.gateway, docker: docker, registry: registry)
        let connector = ProcessConnector(route: settings.processRoute)
        let connections = ConnectionManager(store: store, queue: queue, services: services, connector: connector,
                                            notifications: notifications)
        let hostPaths = HostPathManager(store: store, nodes: nodes, notifications: notifications)
        processes = ProcessManager(store: store, docker: docker, queue: queue, users: users, quotas: quotas,
                                   hostPaths: hostPaths, services: services,
                                   gateway: gateway, connector: connector, connections: connections,
                                   notifications: notifications)
        self.connections = connections
        self.gateway = gateway
        self.services = services
        self.store = store
        self.docker = docker
        self.registry = registry
        self.notifications = notifications
        self.queue = queue
        self.users = users
        self.quotas = quotas
        signIn = SignInManager(store: store, users: users, settings: settings.signIn)
        self.nodes = nodes
        self.hostPaths = hostPaths
        pools = PoolManager(store: store, nodes: nodes, notifications: notifications)
    }

    /// Where the store lives, safe to print.
    public var storeLocation: String { store.location }

    /// A value that changes whenever the store does (see `Store.changeMarker`); nil when the
    /// backend cannot tell cheaply.
    public func storeChangeMarker() async throws -> String? { try await store.changeMarker() }

    /// Follows the Docker event stream until the task is cancelled.
    func followDockerEvents() async {
        for await update in DockerEventFeed(client: docker).updates() {
            switch update {
            case .connected:
                notifications.publish(.dockerConnection(problem: nil))
                await resyncNodes()
                await repairConnections()
            case .event(let event) where event.type == "node":
                do { try await nodes.nodeSync.refresh(dockerId: event.actorID) } catch {
                    logger.warning("cannot refresh node \(event.actorID): \(error)")
                }
            case .event:
                break
            case .disconnected(let error, let retryIn):
                notifications.publish(.dockerConnection(problem: error.userMessage))
                logger.warning("Docker event stream lost (\(error)); retrying in \(retryIn.formattedSeconds)")
            }
        }
    }

    /// Re-syncs nodes every `resyncInterval` and prunes the queue hourly, until cancelled.
    func resyncPeriodically() async {
        var lastPruning = Date.distantPast
        while true {
            do { try await Task.sleep(for: settings.resyncInterval) } catch { return }  // stopping
            await resyncNodes()
            await repairConnections()
            if Date().timeIntervalSince(lastPruning) >= 3600 {
                lastPruning = Date()
                do { try await queue.prune() } catch { logger.warning("pruning the queue failed: \(error)") }
                do { try await signIn.prune() } catch { logger.warning("pruning expired tokens failed: \(error)") }
            }
        }
    }

    private func resyncNodes() async {
        do { try await nodes.sync() } catch is CancellationError {
            // Stopping: the next re-sync reads the swarm again.
        } catch {
            logger.warning("node re-sync failed: \(error)")
        }
    }

    /// Re-creates the endpoints of connections whose processes lost them; settles removals and
    /// relocations whose changes ended without taking effect; lets unused owner networks go.
    private func repairConnections() async {
        do {
            try await connections.repair()
            try await processes.repair()
        } catch is CancellationError {
            // Stopping: the next engine repairs what is left.
        } catch {
            logger.warning("connection repair failed: \(error)")
        }
    }
}
