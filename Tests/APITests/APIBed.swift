import DefpiAPI
import DefpiTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting

@testable import Engine

/// An Engine on a fresh store holding two users' environments side by side, and the REST API
/// in front of it: alice and bob each own a private node, two processes, a connection and a
/// pending change; root is an admin. Bob's things carry names no answer to alice may contain.
struct APIBed {
    let engine: Engine
    let alice: User
    let bob: User
    let root: User
    let publicNode: Node
    let unidentifiedNode: Node
    let pool: NodePool
    let privateNode: [String: Node]
    let processes: [String: [ServiceProcess]]
    let connection: [String: Connection]
    let change: [String: PendingChange]
    static let password = "a-long-password"

    init() async throws {
        let store = try await StoreBackend.sqlite.makeStore()
        engine = try Engine(settings: EngineSettings(store: try StoreLocation(parsing: store.location),
                                                     docker: DockerEndpoint(unixSocketPath: "/nonexistent/docker.sock"),
                                                     registry: RegistrySettings(url: "http://127.0.0.1:1")), store: store)
        let admin = Caller.localOperator(name: "setup")
        alice = try await engine.users.create(username: "alice", password: Self.password, by: admin)
        bob = try await engine.users.create(username: "bob", password: Self.password, email: "bob-secret@example.org", by: admin)
        root = try await engine.users.create(username: "root", password: Self.password, admin: true, by: admin)
        pool = try await store.insert(NodePool(name: "field"))
        publicNode = try await store.insert(Node(kind: .public, name: "public-1", dockerId: "d-public", hostname: "h-public",
                                                 nodePoolId: pool.id))
        unidentifiedNode = try await store.insert(Node(name: "fresh-1", dockerId: "d-fresh", hostname: "h-fresh"))
        var privateNode: [String: Node] = [:]
        var processes: [String: [ServiceProcess]] = [:]
        var connection: [String: Connection] = [:]
        var change: [String: PendingChange] = [:]
        for user in [alice, bob] {
            let node = try await store.insert(Node(kind: .private, name: "\(user.username)-secret-node", dockerId: "d-\(user.username)",
                                                   hostname: "\(user.username)-secret-host", userId: user.id))
            privateNode[user.username] = node
            let owned = try await [1, 2].asyncMap { index in
                try await store.insert(ServiceProcess(name: "\(user.username)-secret-process-\(index)", userId: user.id,
                                                      serviceId: "meter", serviceVersion: "1.0.0",
                                                      placement: .privateNode(node.id), state: .running))
            }
            processes[user.username] = owned
            connection[user.username] = try await store.insert(Connection(
                endpoint1: Endpoint(processId: owned[0].id, interfaceId: "meter/readings"),
                endpoint2: Endpoint(processId: owned[1].id, interfaceId: "meter/setpoint"), port: 5000, userId: user.id))
            change[user.username] = try await store.insert(PendingChange(
                type: "CONFIGURE_PROCESS", description: "process \(owned[0].name): \(user.username)-secret-change",
                resources: [owned[0].id], userId: user.id, createdBy: user.username))
        }
        (self.privateNode, self.processes, self.connection, self.change) = (privateNode, processes, connection, change)
    }

    /// Who asks: nobody, or a user by Basic credentials.
    enum Who: String, CaseIterable, CustomStringConvertible, Sendable {
        case anonymous, alice, bob, root
        var description: String { rawValue }

        var headers: HTTPFields {
            guard self != .anonymous else { return [:] }
            return [.authorization: "Basic " + Data("\(rawValue):\(APIBed.password)".utf8).base64EncodedString()]
        }
    }

    /// What of `username`'s environment no one else may ever read.
    func secrets(of username: String) -> [String] {
        let user = username == "alice" ? alice : bob
        var secrets = [user.id, "\(username)-secret", privateNode[username]!.id, connection[username]!.id, change[username]!.id]
        secrets += processes[username]!.map(\.id)
        if username == "bob" { secrets.append("bob-secret@example.org") }
        return secrets
    }

    /// Runs `body` with a client of the API on this bed.
    func withClient(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let application = Application(router: RESTAPI(engine: engine).router())
        try await application.test(.router) { client in try await body(client) }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
