import Foundation

/// The swarm service of a process: one replica of its service version's image for the node's
/// architecture, pinned to that node, on its owner's network under the process id, restarted
/// when it fails, with what it needs to call the Engine back.
enum ProcessServiceSpec {
    /// Labels linking a swarm service to its process.
    static let processLabel = "org.defpi.process"
    static let userLabel = "org.defpi.user"
    static let serviceLabel = "org.defpi.service"

    /// How long Docker waits after SIGTERM before it kills a container: processes save nothing
    /// on the way out (suspending does that), so this is short.
    static let stopGracePeriod: Int64 = 2_000_000_000

    /// The owner's attachable overlay network.
    static func network(of userId: String) -> String { "usernet-\(userId)" }

    /// The first Docker API version whose swarm services take `NoNewPrivileges`.
    static let noNewPrivilegesAPIVersion = "1.46"

    /// The spec of `process` on `node`; with `noNewPrivileges` (the daemon takes it), no process
    /// in the container gains privileges through setuid binaries or file capabilities.
    static func make(_ process: ServiceProcess, owner: User, node: Node, service: Service, noNewPrivileges: Bool = false) throws
        -> DockerServiceSpec
    {
        guard let image = service.image(for: node.architecture) else {
            throw PermanentChangeFailure("\(service.id) \(service.version) has no image for \(node.name)'s architecture")
        }
        var environment = [
            "PROCESS_ID=\(process.id)", "USER_ID=\(owner.id)", "USER_NAME=\(owner.username)",
            "ORCHESTRATOR_HOST=\(GatewayManager.alias)", "ORCHESTRATOR_PORT=8080", "ORCHESTRATOR_TOKEN=\(process.token)",
        ]
        if let email = owner.email { environment.append("USER_EMAIL=\(email)") }
        let limits = DockerServiceSpec.Resources.Limits(nanoCPUs: process.maxNanoCPUs > 0 ? process.maxNanoCPUs : nil,
                                                        memoryBytes: process.maxMemoryBytes > 0 ? process.maxMemoryBytes : nil)
        let mounts = process.mountPoints.map { mount(of: $0, owner: owner.id) }
        let ports = process.exposePorts.map { DockerServiceSpec.Port(targetPort: $0.internal, publishedPort: $0.external) }
        return DockerServiceSpec(
            name: process.id,
            labels: [processLabel: process.id, userLabel: owner.id, serviceLabel: "\(service.id):\(service.version)"],
            taskTemplate: .init(
                containerSpec: .init(image: image, env: environment, stopGracePeriod: stopGracePeriod,
                                     mounts: mounts.isEmpty ? nil : mounts, capabilityDrop: droppedCapabilities,
                                     privileges: noNewPrivileges ? .init(noNewPrivileges: true) : nil),
                placement: .init(constraints: ["node.id == \(node.dockerId)"]),
                networks: [.init(target: network(of: owner.id), aliases: [process.id])],
                restartPolicy: .init(condition: "on-failure"),
                resources: limits.nanoCPUs == nil && limits.memoryBytes == nil ? nil : .init(limits: limits)),
            endpointSpec: .init(mode: "dnsrr", ports: ports.isEmpty ? nil : ports))
    }

    /// Capabilities of Docker's default set that no dEF-Pi service needs and that help an
    /// intruder: raw sockets (spoofing on the overlay), device nodes, chroot, file capabilities,
    /// audit records.
    static let droppedCapabilities = ["CAP_NET_RAW", "CAP_MKNOD", "CAP_SYS_CHROOT", "CAP_SETFCAP", "CAP_AUDIT_WRITE"]

    /// The owner's volumes are theirs alone: `data` of one user is another volume than `data`
    /// of another.
    static func volumeName(_ name: String, owner: String) -> String { "defpi-\(owner)-\(name)" }

    private static func mount(of mount: MountPoint, owner: String) -> DockerServiceSpec.Mount {
        let type = mount.resolvedType
        let source: String? = switch type {
        case .bind: mount.source
        case .volume: volumeName(mount.source, owner: owner)
        case .tmpfs: nil
        }
        return DockerServiceSpec.Mount(type: type.rawValue, source: source, target: mount.target,
                                       readOnly: mount.readOnly == true ? true : nil,
                                       tmpfsOptions: mount.sizeBytes.map { .init(sizeBytes: $0) })
    }

    /// Whether a service Docker holds already runs `wanted`: Docker pins the image to a digest
    /// (`image@sha256:...`) and stores networks by id, so those are compared loosely.
    static func matches(_ existing: DockerServiceSpec, _ wanted: DockerServiceSpec) -> Bool {
        let have = existing.taskTemplate, want = wanted.taskTemplate
        return have.containerSpec.image.hasPrefix(want.containerSpec.image) && have.placement == want.placement
            && existing.labels == wanted.labels && have.containerSpec.env == want.containerSpec.env
            && have.resources?.limits == want.resources?.limits
            && (have.containerSpec.privileges?.noNewPrivileges ?? false) == (want.containerSpec.privileges?.noNewPrivileges ?? false)
            && sameMounts(have.containerSpec.mounts ?? [], want.containerSpec.mounts ?? [])
            && (existing.endpointSpec?.ports ?? []) == (wanted.endpointSpec?.ports ?? [])
    }

    private static func sameMounts(_ have: [DockerServiceSpec.Mount], _ want: [DockerServiceSpec.Mount]) -> Bool {
        have.count == want.count && zip(have, want).allSatisfy { $0.sameAs($1) }
    }
}
