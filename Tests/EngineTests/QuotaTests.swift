import DefpiTesting
import Foundation
import Testing

@testable import Engine

/// Quotas hold under concurrency on every store, refusals say which limit, the use and the
/// limit, and a tenant's process is never unlimited by default.
@Suite("Quotas", .timeLimit(.minutes(3)))
struct QuotaTests {
    let admin = Caller.localOperator(name: "root")

    func makeQuotas(_ backend: StoreBackend) async throws -> (QuotaManager, UserManager, any Store, User) {
        let store = try await backend.makeStore()
        let users = UserManager(store: store, notifications: EngineNotifications())
        let alice = try await users.create(username: "alice", password: "a-long-password", by: admin)
        return (QuotaManager(store: store, users: users, notifications: EngineNotifications()), users, store, alice)
    }

    /// Eight creations at once, as `ProcessManager.create` does them: claim, then store the process.
    static func createEight(_ quotas: QuotaManager, _ store: any Store, owner: User, memory: Int64) async -> (made: Int, refusals: [String]) {
        await withTaskGroup(of: String?.self) { group in
            for index in 0..<8 {
                group.addTask {
                    let process = ServiceProcess(name: "p\(index)", userId: owner.id, serviceId: "meter", serviceVersion: "1.0.0",
                                                 placement: .automatic, maxMemoryBytes: memory, maxNanoCPUs: 100_000_000)
                    do {
                        try await quotas.claim(processId: process.id, owner: owner, memoryBytes: memory, nanoCPUs: 100_000_000)
                        _ = try await store.insert(process)
                        await quotas.release(processId: process.id, owner: owner)
                        return nil
                    } catch {
                        return "\(error)"
                    }
                }
            }
            var refusals: [String] = []
            for await refusal in group { if let refusal { refusals.append(refusal) } }
            return (8 - refusals.count, refusals)
        }
    }

    @Test("eight creations at once never exceed the process or the memory quota", arguments: StoreBackend.available)
    func concurrent(backend: StoreBackend) async throws {
        let (quotas, _, store, alice) = try await makeQuotas(backend)
        try await quotas.set(for: "alice", QuotaChange(maxProcesses: 3), by: admin)
        let byCount = await Self.createEight(quotas, store, owner: alice, memory: 64 << 20)
        #expect(byCount.made == 3, "\(byCount)")
        #expect(byCount.refusals.allSatisfy { $0.contains("the quota of processes would be exceeded: 3 in use and 1 more asked, the limit is 3") },
                "\(byCount.refusals)")
        _ = try await store.deleteAll(ServiceProcess.self, .all)

        try await quotas.set(for: "alice", QuotaChange(maxProcesses: .some(nil), maxMemoryBytes: 1 << 30), by: admin)
        let byMemory = await Self.createEight(quotas, store, owner: alice, memory: 300 << 20)
        #expect(byMemory.made == 3, "\(byMemory)")
        #expect(byMemory.refusals.allSatisfy { $0.contains("quota of memory would be exceeded: 900 MiB in use and 300 MiB more asked, the limit is 1 GiB") },
                "\(byMemory.refusals)")
        let report = try await quotas.report(for: "alice", by: Caller(user: alice))
        #expect(report.usage == QuotaUsage(processes: 3, memoryBytes: 900 << 20, nanoCPUs: 300_000_000) && report.maxMemoryBytes == 1 << 30)
    }

    @Test("a tenant's process gets the defaults: built in, everyone's, then their own; an admin's stays unlimited")
    func defaults() async throws {
        let (quotas, users, _, alice) = try await makeQuotas(.sqlite)
        let limits = { (user: User) in try await quotas.limits(for: user, memoryBytes: 0, nanoCPUs: 0) }
        #expect(try await limits(alice) == (256 << 20, 1_000_000_000))
        try await quotas.set(for: UserQuota.everyone, QuotaChange(defaultMemoryBytes: 128 << 20), by: admin)
        #expect(try await limits(alice) == (128 << 20, 1_000_000_000))
        try await quotas.set(for: "alice", QuotaChange(defaultNanoCPUs: 500_000_000), by: admin)
        #expect(try await limits(alice) == (128 << 20, 500_000_000))
        #expect(try await quotas.limits(for: alice, memoryBytes: 64 << 20, nanoCPUs: 0) == (64 << 20, 500_000_000))
        let root = try await users.create(username: "boss", password: "a-long-password", admin: true, by: admin)
        #expect(try await limits(root) == (0, 0))
        // Only admins set quotas; a user reads their own.
        await #expect(throws: AuthorizationError.self) {
            try await quotas.set(for: "alice", QuotaChange(maxProcesses: 99), by: Caller(user: alice))
        }
        #expect(try await quotas.report(for: "alice", by: Caller(user: alice)).defaultNanoCPUs == 500_000_000)
    }

    @Test("the host ports a tenant may publish: built in, everyone's, then their own; a range never reaches below 1024")
    func portRanges() async throws {
        let (quotas, _, _, alice) = try await makeQuotas(.sqlite)
        #expect(try await quotas.ports(for: alice) == PortRange(from: 30000, to: 32767))
        try await quotas.set(for: UserQuota.everyone, QuotaChange(ports: PortRange(from: 40000, to: 40999)), by: admin)
        #expect(try await quotas.ports(for: alice) == PortRange(from: 40000, to: 40999))
        try await quotas.set(for: "alice", QuotaChange(ports: PortRange(from: 31000, to: 31009)), by: admin)
        #expect(try await quotas.report(for: "alice", by: Caller(user: alice)).ports == PortRange(from: 31000, to: 31009))
        // The rules use it: inside is fine, outside is refused naming her range.
        let range = try await quotas.ports(for: alice)
        try TenancyRules.check(mounts: [], ports: [ExposePort(internal: 80, external: 31005)], allowedPorts: range, memoryBytes: 0, admin: false)
        #expect(throws: TenancyError.portOutsideRange(30500, range)) {
            try TenancyRules.check(mounts: [], ports: [ExposePort(internal: 80, external: 30500)], allowedPorts: range, memoryBytes: 0, admin: false)
        }
        try TenancyRules.check(mounts: [], ports: [ExposePort(internal: 80, external: 80)], allowedPorts: range, memoryBytes: 0, admin: true)
        for wrong in [PortRange(from: 80, to: 1100), PortRange(from: 31010, to: 31000), PortRange(from: 65000, to: 70000)] {
            await #expect(throws: QuotaError.self, "\(wrong)") {
                try await quotas.set(for: "alice", QuotaChange(ports: wrong), by: admin)
            }
        }
        try await quotas.set(for: "alice", QuotaChange(ports: .some(nil)), by: admin)
        #expect(try await quotas.ports(for: alice) == PortRange(from: 40000, to: 40999), "removing her range gives her everyone's")
    }
}
