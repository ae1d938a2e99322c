@testable import Engine
import Foundation

/// Sample entities with every field set, for round-trip and query tests.
public enum Fixtures {
    /// An Engine on `store` that reaches no Docker daemon and no registry: for tests of what
    /// managers do with the store alone.
    public static func offlineEngine(on store: any Store) throws -> Engine {
        try Engine(settings: EngineSettings(
            store: try StoreLocation(parsing: "/unused.sqlite"), docker: DockerEndpoint(unixSocketPath: "/nonexistent"),
            registry: RegistrySettings()), store: store)
    }

    /// A fixed instant with whole milliseconds, so it survives the epoch-millisecond encoding.
    public static let epoch = Date(timeIntervalSince1970: 1_795_000_000.123)

    public static func user(_ name: String = "alice", admin: Bool = false) -> User {
        User(username: name, passwordHash: "hash-of-\(name)", email: "\(name)@example.org", admin: admin)
    }

    public static func pool(_ name: String = "lab") -> NodePool {
        NodePool(name: name)
    }

    public static func node(_ hostname: String = "tb-w1", kind: NodeKind = .public, poolId: String? = nil) -> Node {
        Node(kind: kind, dockerId: "docker-\(hostname)", hostname: hostname, lastSync: epoch, status: .ready,
             architecture: .x86_64, availability: .active, role: .worker, nodePoolId: poolId)
    }

    public static func process(user: String, name: String = "meter", pool: String = "pool-1") -> ServiceProcess {
        ServiceProcess(name: name, userId: user, serviceId: "meter", serviceVersion: "1.2.0", placement: .pool(pool),
                state: .running, dockerId: "svc-\(name)", runningNodeId: "node-1",
                configuration: [ProcessParameter(key: "INTERVAL", value: "5")], maxMemoryBytes: 64 << 20,
                maxNanoCPUs: 500_000_000, mountPoints: [MountPoint(source: "/dev/ttyUSB0", target: "/dev/ttyUSB0", type: .bind)],
                exposePorts: [ExposePort(internal: 8080, external: 18080)], created: epoch)
    }

    public static func connection(_ first: String, _ second: String) -> Connection {
        Connection(endpoint1: Endpoint(processId: first, interfaceId: "meter/readings", interfaceVersionName: "v1"),
                   endpoint2: Endpoint(processId: second, interfaceId: "aggregator/readings", interfaceVersionName: "v1"),
                   port: 5123, userId: "6b0fc7eadb89fb5433e4d024", created: epoch)
    }

    /// The kind of the sample changes.
    public static let changeKind: PendingChangeKind = "CreateDockerService"

    public static func change(_ resources: [String], runAt: Date = epoch, type: PendingChangeKind = changeKind,
                              user: String? = "user-1") -> PendingChange {
        PendingChange(type: type, description: "\(type.rawValue) for \(resources.joined(separator: ","))",
                      resources: resources, runAt: runAt, userId: user, createdBy: "alice", created: epoch,
                      payload: .object(["processId": .string(resources.first ?? "")]))
    }

    public static func audit(target: String = "process-1") -> AuditEvent {
        AuditEvent(time: epoch, actor: "alice", action: "change.queued", target: target, changeId: "change-1", detail: "queued")
    }
}
