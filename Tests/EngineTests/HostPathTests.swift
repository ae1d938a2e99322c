import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// Host path grants as an admin edits them: one per path, bounded, checked, admins only, audited
/// on the node's or pool's id.
@Suite("Host path grants", .timeLimit(.minutes(2)))
struct HostPathTests {
    @Test("grants: one per path (the last wins), at most 32, valid paths only, admins only; audited on the id",
          arguments: StoreBackend.available)
    func edits(backend: StoreBackend) async throws {
        let store = try await backend.makeStore()
        let engine = try Fixtures.offlineEngine(on: store)
        let admin = Caller.localOperator()
        let pool = try await store.insert(NodePool(name: "lab"))
        var node = Fixtures.node()
        node.kind = .private
        node = try await store.insert(node)

        try await engine.hostPaths.edit(.pool("lab"), .allow(HostPathGrant(path: "/dev/ttyUSB0")), by: admin)
        let again = try await engine.hostPaths.edit(.pool(pool.id), .allow(HostPathGrant(path: "/dev/ttyUSB0", writable: true)), by: admin)
        #expect(again == [HostPathGrant(path: "/dev/ttyUSB0", writable: true)])
        let replaced = try await engine.hostPaths.edit(.node(node.id), .replace([
            HostPathGrant(path: "/srv/a"), HostPathGrant(path: "/srv/b"), HostPathGrant(path: "/srv/a", writable: true),
        ]), by: admin)
        #expect(replaced == [HostPathGrant(path: "/srv/b"), HostPathGrant(path: "/srv/a", writable: true)])
        #expect(try await engine.hostPaths.grants(.node(node.id), by: admin) == replaced)

        let many = (0...HostPathManager.maximumGrants).map { HostPathGrant(path: "/dev/tty\($0)") }
        await #expect(throws: HostPathError.tooMany) { try await engine.hostPaths.edit(.pool("lab"), .replace(many), by: admin) }
        for path in ["/", "dev/tty", "/srv/../etc", "/a:b", "/a,b", String(repeating: "/x", count: 200)] {
            await #expect(throws: HostPathError.self, "\(path.prefix(20))") {
                try await engine.hostPaths.edit(.pool("lab"), .allow(HostPathGrant(path: path)), by: admin)
            }
        }
        let tenant = Caller(user: try await store.insert(Fixtures.user("mallory")))
        await #expect(throws: AuthorizationError.self) {
            try await engine.hostPaths.edit(.pool("lab"), .allow(HostPathGrant(path: "/")), by: tenant)
        }
        #expect(try await store.fetch(NodePool.self, id: pool.id)?.hostPaths == [HostPathGrant(path: "/dev/ttyUSB0", writable: true)],
                "a refused edit changed the grants")
        let targets = try await store.all(AuditEvent.self, .where("action", is: "hostpath.changed")).map(\.target)
        #expect(Set(targets) == [pool.id, node.id], "\(targets)")
    }
}
