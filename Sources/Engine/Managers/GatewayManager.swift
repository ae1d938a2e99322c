import Foundation
import Logging

/// Where the gateway and the Engine meet: a host directory with two unix sockets, bind-mounted
/// into the gateway's container at `/run/defpi`.
public struct GatewaySettings: Sendable, Equatable {
    /// The host directory (the Docker daemon of the Engine's node must see the same path).
    public var directory: String
    /// The `defpi-gateway` program the gateway's image is built from.
    public var executable: String

    public init(directory: String, executable: String = GatewaySettings.installedExecutable) {
        self.directory = directory
        self.executable = executable
    }

    /// `$DEFPI_GATEWAY_EXECUTABLE`, else `defpi-gateway` beside the running program.
    public static var installedExecutable: String {
        if let path = ProcessInfo.processInfo.environment["DEFPI_GATEWAY_EXECUTABLE"], !path.isEmpty { return path }
        let program = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return program.deletingLastPathComponent().appendingPathComponent("defpi-gateway").path
    }

    /// Where the Engine asks the gateway to dial a process.
    public var dialSocket: String { directory + "/gateway.sock" }
    /// Where the Engine's API listens for processes (the gateway forwards `orchestrator:8080`).
    public var engineSocket: String { directory + "/engine.sock" }

    /// `$DEFPI_GATEWAY_DIRECTORY`, else `$XDG_RUNTIME_DIR/defpi`, else `/run/defpi`.
    public static var standard: GatewaySettings {
        let environment = ProcessInfo.processInfo.environment
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        return GatewaySettings(directory: value("DEFPI_GATEWAY_DIRECTORY") ?? value("XDG_RUNTIME_DIR").map { $0 + "/defpi" }
            ?? "/run/defpi")
    }
}

/// Keeps the gateway (`defpi-gateway`) running: a swarm service on the node of the Engine's
/// Docker daemon, attached to every user network under the alias `orchestrator`, with the
/// gateway directory mounted. Its image is built by defpi from the `defpi-gateway` executable
/// installed beside `defpi`, without a base image.
public final class GatewayManager: Sendable {
    /// The gateway's swarm service.
    public static let serviceName = "defpi-gateway"
    /// The name processes call the Engine by.
    public static let alias = "orchestrator"
    public let settings: GatewaySettings
    private let docker: DockerClient
    private let registry: RegistryClient
    /// The registry as the swarm's nodes reach it (the image reference's host).
    private let registryHost: String
    private let logger = Logger(label: "defpi.gateway")

    public init(settings: GatewaySettings, docker: DockerClient, registry: RegistryClient) {
        self.settings = settings
        self.docker = docker
        self.registry = registry
        registryHost = registry.host
    }

    /// Builds the gateway image from `executable` and pushes it as `defpi/gateway:<digest>`;
    /// returns the image reference. Unchanged binaries give the same image.
    public func publishImage(executable: String) async throws -> String {
        let root = try ImageRoot.collect(executable: executable)
        let layer = try root.layer()
        let tag = "sha-" + RegistryClient.digest(of: layer).dropFirst("sha256:".count).prefix(16)
        _ = try await root.push(layer, to: registry, repository: "defpi/gateway", reference: String(tag),
                                labels: ["org.opencontainers.image.title": "defpi-gateway"])
        return "\(registryHost)/defpi/gateway:\(tag)"
    }

    /// Makes sure the gateway runs and is attached to `network` (keeping the networks it has),
    /// building and pushing its image from `settings.executable` when it does not run yet.
    public func attach(to network: String) async throws {
        // Processes of several new owners deployed at once each attach their network: an update
        // based on a version another one just replaced is refused, and read again.
        for _ in 1..<5 {
            do {
                return try await attachOnce(to: network)
            } catch DockerError.conflict {
                continue
            }
        }
        try await attachOnce(to: network)
    }

    private func attachOnce(to network: String) async throws {
        if let existing = try await docker.service(Self.serviceName) {
            let networks = try await networkNames(existing.spec.taskTemplate.networks ?? [])
            let mounted = existing.spec.taskTemplate.containerSpec.mounts?.first?.source
            if networks.contains(network) && mounted == settings.directory { return }
            try await ensure(image: existing.spec.taskTemplate.containerSpec.image, networks: Array(Set(networks + [network])))
        } else {
            let userNetworks = try await docker.networks().map(\.name).filter { $0.hasPrefix("usernet-") }
            try await ensure(image: try await publishImage(executable: settings.executable),
                             networks: Array(Set(userNetworks + [network])))
        }
    }

    /// Takes the gateway off `network` (keeping its other networks); nothing when it is not on it.
    public func detach(from network: String) async throws {
        for attempt in 1...5 {
            guard let existing = try await docker.service(Self.serviceName) else { return }
            let networks = try await networkNames(existing.spec.taskTemplate.networks ?? [])
            guard networks.contains(network) else { return }
            do {
                return try await ensure(image: existing.spec.taskTemplate.containerSpec.image, networks: networks.filter { $0 != network })
            } catch DockerError.conflict where attempt < 5 {
                continue  // Another engine changed the gateway meanwhile: read it again.
            }
        }
    }

    /// Makes the gateway service run `image`, pinned to the node of the Engine's daemon and
    /// attached to `networks`; creates it, or updates it when it differs. Idempotent.
    public func ensure(image: String, networks: [String]) async throws {
        try FileManager.default.createDirectory(atPath: settings.directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o750])
        let node = try await docker.requireSwarmManager().swarm.nodeID
        let spec = DockerServiceSpec(
            name: Self.serviceName, labels: ["org.defpi.role": "gateway"],
            taskTemplate: .init(
                containerSpec: .init(image: image, env: ["DEFPI_GATEWAY_DIRECTORY=/run/defpi"],
                                     stopGracePeriod: 2_000_000_000,
                                     mounts: [.init(source: settings.directory, target: "/run/defpi")]),
                placement: .init(constraints: ["node.id == \(node)"]),
                networks: networks.sorted().map { .init(target: $0, aliases: [Self.alias]) },
                restartPolicy: .init(condition: "any")))
        guard let existing = try await docker.service(Self.serviceName) else {
            try await docker.createService(spec)
            logger.info("gateway started on node \(node) with networks \(networks.sorted())")
            return
        }
        // Docker pins the image to a digest (`image@sha256:...`) and stores networks by id.
        let current = existing.spec.taskTemplate
        if current.containerSpec.image.hasPrefix(image), current.placement == spec.taskTemplate.placement,
           current.containerSpec.mounts == spec.taskTemplate.containerSpec.mounts,
           Set(try await networkNames(current.networks ?? [])) == Set(networks) {
            return
        }
        try await docker.updateService(existing.id, version: existing.version, spec: spec)
        logger.info("gateway updated: image \(image), networks \(networks.sorted())")
    }

    /// The names of the networks a service spec attaches (Docker stores their ids).
    private func networkNames(_ attachments: [DockerServiceSpec.NetworkAttachment]) async throws -> [String] {
        let all = try await docker.networks()
        return attachments.map { attachment in all.first { $0.id == attachment.target }?.name ?? attachment.target }
    }
}
