import DefpiTesting
import Foundation
import Testing

@testable import Engine

/// Names that must be unique are held unique by the store, not by a read before the write:
/// of eight creations of one name at once, one wins, on every backend.
@Suite("Store-held uniqueness", .timeLimit(.minutes(3)))
struct StoreUniquenessTests {
    /// Runs `attempt` eight times at once; the messages of those that failed.
    static func eightAtOnce(_ attempt: @escaping @Sendable (Int) async throws -> Void) async -> [String] {
        await withTaskGroup(of: String?.self) { group in
            for index in 0..<8 {
                group.addTask {
                    do {
                        try await attempt(index)
                        return nil
                    } catch {
                        return (error as? UserFacingError)?.userMessage ?? "\(error)"
                    }
                }
            }
            var failures: [String] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
    }

    @Test("one pool of a name; one process of a name per user (another user may use it)", arguments: StoreBackend.available)
    func eightAtOnce(backend: StoreBackend) async throws {
        let engine = try await Engine(settings: TwoEnvironments.settings(backend.freshLocation()))
        let (store, pools) = (engine.store, engine.pools)
        let poolFailures = await Self.eightAtOnce { _ in _ = try await pools.create(named: "edge", by: .localOperator()) }
        #expect(poolFailures.count == 7 && poolFailures.allSatisfy { $0 == "a pool named edge exists already" }, "\(poolFailures)")
        #expect(try await store.all(NodePool.self).count == 1)

        // Process records as the queue writes them, straight to the store: the index alone decides.
        let processFailures = await Self.eightAtOnce { _ in
            var batch = StoreBatch()
            batch.insert(ServiceProcess(name: "meter-1", userId: "alice", serviceId: "meter", serviceVersion: "1.0.0", placement: .automatic))
            try await store.write(batch)
        }
        #expect(processFailures.count == 7, "\(processFailures)")
        _ = try await store.insert(ServiceProcess(name: "meter-1", userId: "bob", serviceId: "meter", serviceVersion: "1.0.0",
                                                  placement: .automatic))
        #expect(try await store.all(ServiceProcess.self).count == 2)
    }
}

/// The last admin is kept by the store: admins taking the role from each other at once never
/// leave defpi without one.
@Suite("Store-held last admin", .timeLimit(.minutes(3)))
struct LastAdminTests {
    @Test("eight demotions and removals at once of two admins: one admin is always left", arguments: StoreBackend.available)
    func lastAdmin(backend: StoreBackend) async throws {
        let engine = try await Engine(settings: TwoEnvironments.settings(backend.freshLocation()))
        let users = engine.users
        let root = Caller.localOperator()
        for round in 0..<3 {
            let names = ["ann\(round)", "ben\(round)"]
            for name in names { try await users.create(username: name, password: "a-long-password", admin: true, by: root) }
            for admin in try await engine.store.all(User.self, .equals("admin", .bool(true))) where !names.contains(admin.username) {
                try await users.update(admin.username, admin: false, by: root)
            }
            let failures = await StoreUniquenessTests.eightAtOnce { index in
                let name = names[index % 2]
                if index < 4 { try await users.update(name, admin: false, by: root) } else { try await users.delete(name, by: root) }
            }
            let admins = try await engine.store.all(User.self, .equals("admin", .bool(true)))
            #expect(admins.count >= 1, "round \(round): no admin left after \(8 - failures.count) successes: \(failures)")
            #expect(failures.allSatisfy { $0.contains("last admin") || $0.contains("admins changed") || $0.contains("no user") || $0.contains("changed") },
                    "\(failures)")
        }
    }
}
