import Engine
import Foundation

/// A store holding two users' environments side by side, for the tests that check no front
/// shows one user anything of the other's: alice and bob each own a private node, two running
/// processes, a connection between them and a pending change; root is an admin; there is a pool
/// with a public node and an unidentified node. Bob's and alice's things carry names that say so.
public struct TwoEnvironments: Sendable {
    public let location: String
    public let alice: User
    public let bob: User
    public let root: User
    public let publicNode: Node
    public let unidentifiedNode: Node
    public let pool: NodePool
    public let privateNode: [String: Node]
    public let processes: [String: [ServiceProcess]]
    public let connection: [String: Connection]
    public let change: [String: PendingChange]
    public static let password = "a-long-password"

    public init() async throws {
        location = StoreBackend.sqlite.freshLocation()
        let users = try await Engine(settings: Self.settings(location)).users
        let admin = Caller.localOperator(name: "setup")
        alice = try await users.create(username: "alice", password: Self.password, by: admin)
        bob = try await users.create(username: "bob", password: Self.password, email: "bob-secret@example.org", by: admin)
        root = try await users.create(username: "root", password: Self.password, admin: true, by: admin)
        let store = try await StoreLocation(parsing: location).open()
        pool = try await store.insert(NodePool(name: "field"))
        publicNode = try await store.insert(Node(kind: .public, name: "public-1", dockerId: "d-public", hostname: "h-public",
                                                 nodePoolId: pool.id))
        unidentifiedNode = try await store.insert(Node(name: "fresh-1", dockerId: "d-fresh", hostname: "h-fresh"))
        var privateNode: [String: Node] = [:]
        var processes: [String: [ServiceProcess]] = [:]
        var connection: [String: Connection] = [:]
        var change: [String: PendingChange] = [:]
        for user in [alice, bob] {
            let name = user.username
            let node = try await store.insert(Node(kind: .private, name: "\(name)-secret-node", dockerId: "d-\(name)",
                                                   hostname: "\(name)-secret-host", userId: user.id))
            privateNode[name] = node
            var owned: [ServiceProcess] = []
            for index in [1, 2] {
                owned.append(try await store.insert(ServiceProcess(
                    name: "\(name)-secret-process-\(index)", userId: user.id, serviceId: "meter", serviceVersion: "1.0.0",
                    placement: .privateNode(node.id), state: .running)))
            }
            processes[name] = owned
            connection[name] = try await store.insert(Connection(
                endpoint1: Endpoint(processId: owned[0].id, interfaceId: "meter/readings"),
                endpoint2: Endpoint(processId: owned[1].id, interfaceId: "meter/setpoint"), port: 5000, userId: user.id))
            change[name] = try await store.insert(PendingChange(
                type: "CONFIGURE_PROCESS", description: "process \(owned[0].name): \(name)-secret-change",
                resources: [owned[0].id], userId: user.id, createdBy: name))
        }
        (self.privateNode, self.processes, self.connection, self.change) = (privateNode, processes, connection, change)
    }

    /// Settings of an Engine on this store that reaches no Docker, and the test bed's registry
    /// under a prefix of its own (an empty catalogue) when the bed has one, else none.
    public static func settings(_ location: String) throws -> EngineSettings {
        EngineSettings(store: try StoreLocation(parsing: location), docker: DockerEndpoint(unixSocketPath: "/nonexistent/docker.sock"),
                       registry: RegistrySettings(url: TestBed.registryURL ?? "http://127.0.0.1:1",
                                                  prefix: "access-\(ObjectID.generate().suffix(8))"))
    }

    /// What of `username`'s environment no one else may ever read.
    public func secrets(of username: String) -> [String] {
        let user = username == "alice" ? alice : bob
        var secrets = [user.id, "\(username)-secret", privateNode[username]!.id, connection[username]!.id, change[username]!.id]
        secrets += processes[username]!.map(\.id)
        if username == "bob" { secrets.append("bob-secret@example.org") }
        return secrets
    }
}
