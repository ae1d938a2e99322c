import Foundation
import Logging

/// A user's overlay network, and the gateway's attachment to it, exist while the user has
/// processes: made by the first deployment, let go with the last process, so a cluster that
/// served many tenants does not keep a network (and a gateway interface) per tenant for ever.
/// Only networks this store made are touched (they carry its identity): several stores may share
/// one swarm.
struct OwnerNetworks: Sendable {
    let store: any Store
    let docker: DockerClient
    let gateway: GatewayManager
    private static let logger = Logger(label: "defpi.processes")

    /// The owner's network, made when missing, with the gateway attached.
    func prepare(for ownerId: String) async throws {
        let network = ProcessServiceSpec.network(of: ownerId)
        _ = try await docker.createOverlayNetwork(name: network, labels: [ProcessServiceSpec.userLabel: ownerId,
                                                                          NodeLabels.store: store.identity])
        try await gateway.attach(to: network)
    }

    /// Lets go of the networks of owners who have no process left (`ownerId`'s only, when given):
    /// the gateway is detached, then the network removed. An owner who gets a process meanwhile
    /// keeps it: the count is read again after the detach, and the gateway attached back.
    func release(unusedBy ownerId: String? = nil) async throws {
        let networks = try await docker.networks().filter {
            $0.labels[NodeLabels.store] == store.identity && $0.labels[ProcessServiceSpec.userLabel] != nil
                && (ownerId == nil || $0.labels[ProcessServiceSpec.userLabel] == ownerId)
        }
        for network in networks {
            let owner = network.labels[ProcessServiceSpec.userLabel] ?? ""
            guard try await isUnused(by: owner) else { continue }
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
