import Foundation
import Logging
import Synchronization

/// A user's overlay network, and the gateway's attachment to it, exist while the user has
/// processes: made by the first deployment, let go by the re-sync once the user has had none for
/// `idleGrace`, so a cluster that served many tenants does not keep a network (and a gateway
/// interface) per tenant for ever. The grace spares a user who removes their processes and
/// deploys again a detach and an attach, each of which restarts the gateway task and pauses
/// every tenant's callbacks for seconds. Only networks this store made are touched (they carry
/// its identity): several stores may share one swarm.
final class OwnerNetworks: Sendable {
    let store: any Store
    let docker: DockerClient
    let gateway: GatewayManager
    /// How long an owner's network stays without processes before it goes.
    static let idleGrace: Duration = .seconds(600)
    /// When this engine first saw each network without processes (a restart only delays the release).
    private let unusedSince = Mutex<[String: ContinuousClock.Instant]>([:])
    private static let logger = Logger(label: "defpi.processes")

    init(store: any Store, docker: DockerClient, gateway: GatewayManager) {
        self.store = store
        self.docker = docker
        self.gateway = gateway
    }

    /// The owner's network, made when missing, with the gateway attached.
    func prepare(for ownerId: String) async throws {
        let network = ProcessServiceSpec.network(of: ownerId)
        _ = try await docker.createOverlayNetwork(name: network, labels: [ProcessServiceSpec.userLabel: ownerId,
                                                                          NodeLabels.store: store.identity])
        try await gateway.attach(to: network)
    }

    /// Lets go of the networks of owners who have had no process for `grace` (as this engine has
    /// watched them): the gateway is detached, then the network removed. An owner who gets a
    /// process meanwhile keeps it: the count is read again after the detach, and the gateway
    /// attached back.
    func releaseIdle(after grace: Duration = OwnerNetworks.idleGrace) async throws {
        let networks = try await docker.networks().filter {
            $0.labels[NodeLabels.store] == store.identity && $0.labels[ProcessServiceSpec.userLabel] != nil
        }
        let now = ContinuousClock.now
        for network in networks {
            let owner = network.labels[ProcessServiceSpec.userLabel] ?? ""
            guard try await isUnused(by: owner) else {
                unusedSince.withLock { _ = $0.removeValue(forKey: network.id) }
                continue
            }
            let since = unusedSince.withLock { $0[network.id, default: now] }
            unusedSince.withLock { $0[network.id] = since }
            guard now - since >= grace else { continue }
            unusedSince.withLock { _ = $0.removeValue(forKey: network.id) }
            try await gateway.detach(from: network.name)
            guard try await isUnused(by: owner) else {
                try await gateway.attach(to: network.name)
                continue
            }
            try await remove(network)
        }
    }

    /// Removes the network once the containers of the owner's last processes have left it:
    /// Docker stops them a few seconds after their services are removed, and refuses meanwhile.
    private func remove(_ network: DockerNetwork) async throws {
        let deadline = ContinuousClock.now + Self.patience
        while true {
            do {
                try await docker.removeNetwork(network.id)
                return Self.logger.info("network \(network.name) removed: its owner has no process left")
            } catch let error as DockerError where ContinuousClock.now < deadline {
                Self.logger.debug("network \(network.name) is still in use (\(error)); trying again")
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// How long the containers of removed processes may take to leave the network (their stop
    /// grace period, and the time the swarm takes to tell the node).
    static let patience: Duration = .seconds(20)

    private func isUnused(by ownerId: String) async throws -> Bool {
        try await store.count(ServiceProcess.self, .where("userId", is: ownerId)) == 0
    }
}
