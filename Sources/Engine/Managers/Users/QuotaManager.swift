import Foundation
import Logging

/// Users' quotas and their processes' default limits, as Kubernetes' ResourceQuota and
/// LimitRange: an admin sets, per user or for everyone, how many processes, how much memory and
/// how many CPUs a user's processes may take together, and the limits a process gets when it is
/// created without; a process of a user who is not an admin is never unlimited by default.
/// Quotas hold under concurrency on every store: a creation claims its share in a
/// compare-and-set write of the user's quota record before its process is stored.
public final class QuotaManager: Sendable {
    /// The default limits when no admin set any: a tenant's process is never unlimited by default.
    public static let builtInDefaultMemoryBytes: Int64 = 256 << 20
    public static let builtInDefaultNanoCPUs: Int64 = 1_000_000_000
    /// How long a claim counts without its process: a creation that crashed in between.
    static let claimLifetime: TimeInterval = 60

    private let store: any Store
    private let users: UserManager
    private let notifications: EngineNotifications
    private let logger = Logger(label: "defpi.quotas")

    init(store: any Store, users: UserManager, notifications: EngineNotifications) {
        self.store = store
        self.users = users
        self.notifications = notifications
    }

    // MARK: Reading and setting

    /// A user's quota as it holds for them (their own settings over everyone's) and what their
    /// processes take now: for the user themselves or an admin.
    public func report(for reference: String, by caller: Caller) async throws -> QuotaReport {
        let user = try await users.user(reference, by: caller)
        let quota = try await effective(for: user.id)
        return QuotaReport(userId: user.id, quota: quota, usage: try await usage(of: user.id, claims: quota.claims))
    }

    /// The quota as it holds for each user `caller` may see (everyone for an admin, else
    /// themselves), by user id: one read of the quota records, for listings.
    public func quotas(by caller: Caller) async throws -> [String: UserQuota] {
        let records = Dictionary(try await store.all(UserQuota.self).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let everyone = records[UserQuota.everyone]
        var quotas: [String: UserQuota] = [:]
        for user in try await users.users(by: caller) {
            var quota = (records[user.id] ?? UserQuota(id: user.id)).over(everyone)
            quota.claims = []
            quotas[user.id] = quota
        }
        return quotas
    }

    /// Sets limits and defaults for a user (or, with `UserQuota.everyone`, for everyone without
    /// their own); each `.some(nil)` removes that setting, `clear` all of them. Admins only.
    @discardableResult
    public func set(for reference: String, _ change: QuotaChange, by caller: Caller) async throws -> UserQuota {
        try caller.requireAdmin(to: "set quotas")
        try change.check()
        let id = reference == UserQuota.everyone ? reference : try await users.user(reference, by: caller).id
        for _ in 0..<20 {
            var quota = try await store.fetch(UserQuota.self, id: id) ?? UserQuota(id: id)
            change.apply(to: &quota)
            do {
                let stored = quota.revision == 0 ? try await store.insert(quota) : try await store.update(quota)
                await store.audit(AuditEvent(actor: caller.name, action: "user.quota", target: id, detail: change.summary),
                                  logger: logger)
                notifications.publish(.entity(.user, id: id, change: .modified))
                return stored
            } catch StoreError.conflict, StoreError.duplicate {
                continue  // a creation claimed meanwhile, or another admin set it: read again
            }
        }
        throw QuotaError.contended
    }

    // MARK: Creating processes

    /// The memory and CPU limits a process of `owner` gets: those asked for, else the defaults
    /// (none for an admin's own processes).
    func limits(for owner: User, memoryBytes: Int64, nanoCPUs: Int64) async throws -> (memoryBytes: Int64, nanoCPUs: Int64) {
        guard !owner.admin, memoryBytes == 0 || nanoCPUs == 0 else { return (memoryBytes, nanoCPUs) }
        let quota = try await effective(for: owner.id)
        return (memoryBytes > 0 ? memoryBytes : quota.defaultMemoryBytes ?? Self.builtInDefaultMemoryBytes,
                nanoCPUs > 0 ? nanoCPUs : quota.defaultNanoCPUs ?? Self.builtInDefaultNanoCPUs)
    }

    /// The host ports `owner`'s processes may publish: theirs, everyone's, or the built-in range.
    func ports(for owner: User) async throws -> PortRange {
        try await effective(for: owner.id).ports ?? .tenantDefault
    }

    /// Claims a new process's share of `owner`'s quota, or throws `QuotaError.exceeded` saying
    /// which limit, the use and the limit. Call before the process is stored; the claim counts
    /// until it is (or for `claimLifetime`).
    func claim(processId: String, owner: User, memoryBytes: Int64, nanoCPUs: Int64) async throws {
        for round in 0..<20 {
            let own = try await store.fetch(UserQuota.self, id: owner.id)
            let quota = (own ?? UserQuota(id: owner.id)).over(try await store.fetch(UserQuota.self, id: UserQuota.everyone))
            guard !quota.isUnlimited else { return }
            let now = Date()
            let processes = try await liveProcesses(of: owner.id)
            let ids = Set(processes.map(\.id))
            let claims = quota.claims.filter { !ids.contains($0.processId) && now.timeIntervalSince($0.at) < Self.claimLifetime }
            try quota.check(Self.usage(processes, claims), memoryBytes: memoryBytes, nanoCPUs: nanoCPUs)
            var claimed = own ?? UserQuota(id: owner.id)
            claimed.claims = claims + [QuotaClaim(processId: processId, memoryBytes: memoryBytes, nanoCPUs: nanoCPUs, at: now)]
            do {
                _ = claimed.revision == 0 ? try await store.insert(claimed) : try await store.update(claimed)
                return
            } catch StoreError.conflict, StoreError.duplicate {
                // Another creation claimed first: read again (it may have taken the last of the quota).
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...10) * (round + 1)))
            }
        }
        throw QuotaError.contended
    }

    /// Drops the claim of a process that is stored now (it counts as a process from here on),
    /// so a process removed soon after is not counted for the rest of the claim's lifetime. Best
    /// effort: a claim left behind expires by itself.
    func release(processId: String, owner: User) async {
        for _ in 0..<5 {
            do {
                guard var quota = try await store.fetch(UserQuota.self, id: owner.id),
                      quota.claims.contains(where: { $0.processId == processId }) else { return }
                quota.claims.removeAll { $0.processId == processId }
                _ = try await store.update(quota)
                return
            } catch StoreError.conflict {
                continue
            } catch {
                logger.debug("the quota claim of \(processId) stays until it expires: \(error)")
                return
            }
        }
    }

    // MARK: Usage

    private func effective(for userId: String) async throws -> UserQuota {
        let own = try await store.fetch(UserQuota.self, id: userId) ?? UserQuota(id: userId)
        return own.over(try await store.fetch(UserQuota.self, id: UserQuota.everyone))
    }

    private func liveProcesses(of userId: String) async throws -> [ServiceProcess] {
        try await store.all(ServiceProcess.self, .where("userId", is: userId)).filter { $0.state != .terminated }
    }

    private func usage(of userId: String, claims: [QuotaClaim]) async throws -> QuotaUsage {
        let processes = try await liveProcesses(of: userId)
        let ids = Set(processes.map(\.id))
        let now = Date()
        return Self.usage(processes, claims.filter { !ids.contains($0.processId) && now.timeIntervalSince($0.at) < Self.claimLifetime })
    }

    private static func usage(_ processes: [ServiceProcess], _ claims: [QuotaClaim]) -> QuotaUsage {
        var usage = QuotaUsage()
        for process in processes { usage = usage.adding(memoryBytes: process.maxMemoryBytes, nanoCPUs: process.maxNanoCPUs) }
        for claim in claims { usage = usage.adding(memoryBytes: claim.memoryBytes, nanoCPUs: claim.nanoCPUs) }
        return usage
    }
}

/// A user's quota as it holds for them, and what their processes take: the REST API's
/// `/user/{id}/quota` and the CLI's `user quota`.
public struct QuotaReport: Sendable, Equatable, Codable {
    public var userId: String
    public var maxProcesses: Int?
    public var maxMemoryBytes: Int64?
    public var maxNanoCPUs: Int64?
    public var defaultMemoryBytes: Int64
    public var defaultNanoCPUs: Int64
    /// The host ports the user's processes may publish.
    public var ports: PortRange
    public var usage: QuotaUsage

    init(userId: String, quota: UserQuota, usage: QuotaUsage) {
        ports = quota.ports ?? .tenantDefault
        self.userId = userId
        maxProcesses = quota.maxProcesses
        maxMemoryBytes = quota.maxMemoryBytes
        maxNanoCPUs = quota.maxNanoCPUs
        defaultMemoryBytes = quota.defaultMemoryBytes ?? QuotaManager.builtInDefaultMemoryBytes
        defaultNanoCPUs = quota.defaultNanoCPUs ?? QuotaManager.builtInDefaultNanoCPUs
        self.usage = usage
    }
}

/// What an admin changes of a quota: `.some(nil)` removes a setting.
public struct QuotaChange: Sendable, Equatable {
    public var maxProcesses: Int??
    public var maxMemoryBytes: Int64??
    public var maxNanoCPUs: Int64??
    public var defaultMemoryBytes: Int64??
    public var defaultNanoCPUs: Int64??
    public var ports: PortRange??
    public var clear: Bool

    public init(maxProcesses: Int?? = nil, maxMemoryBytes: Int64?? = nil, maxNanoCPUs: Int64?? = nil,
                defaultMemoryBytes: Int64?? = nil, defaultNanoCPUs: Int64?? = nil, ports: PortRange?? = nil, clear: Bool = false) {
        self.ports = ports
        self.maxProcesses = maxProcesses
        self.maxMemoryBytes = maxMemoryBytes
        self.maxNanoCPUs = maxNanoCPUs
        self.defaultMemoryBytes = defaultMemoryBytes
        self.defaultNanoCPUs = defaultNanoCPUs
        self.clear = clear
    }

    func check() throws {
        let values: [Int64?] = [(maxProcesses ?? nil).map(Int64.init), maxMemoryBytes ?? nil, maxNanoCPUs ?? nil,
                                defaultMemoryBytes ?? nil, defaultNanoCPUs ?? nil]
        guard values.allSatisfy({ ($0 ?? 0) >= 0 }) else { throw QuotaError.invalid("limits are 0 or more") }
        if let memory = defaultMemoryBytes ?? nil, memory < 4 << 20 {
            throw QuotaError.invalid("a default memory limit below 4 MiB cannot run a process")
        }
        if let range = ports ?? nil, !(range.from >= 1024 && range.from <= range.to && range.to <= 65535) {
            throw QuotaError.invalid("a port range runs from 1024 or more up to 65535 at most, the lower end first, like 31000-31099; not \(range)")
        }
        guard !(clear && [maxProcesses != nil, maxMemoryBytes != nil, maxNanoCPUs != nil, defaultMemoryBytes != nil,
                          defaultNanoCPUs != nil, ports != nil].contains(true)) else {
            throw QuotaError.invalid("--clear removes every setting; give it alone")
        }
    }

    func apply(to quota: inout UserQuota) {
        if clear {
            quota = UserQuota(id: quota.id, revision: quota.revision, claims: quota.claims)
            return
        }
        if let maxProcesses { quota.maxProcesses = maxProcesses }
        if let maxMemoryBytes { quota.maxMemoryBytes = maxMemoryBytes }
        if let maxNanoCPUs { quota.maxNanoCPUs = maxNanoCPUs }
        if let defaultMemoryBytes { quota.defaultMemoryBytes = defaultMemoryBytes }
        if let defaultNanoCPUs { quota.defaultNanoCPUs = defaultNanoCPUs }
        if let ports { quota.ports = ports }
    }

    var summary: String {
        if clear { return "cleared" }
        let parts: [(String, String??)] = [
            ("processes", maxProcesses.map { $0.map(String.init) }), ("memory", maxMemoryBytes.map { $0.map(String.init) }),
            ("nanoCPUs", maxNanoCPUs.map { $0.map(String.init) }), ("default memory", defaultMemoryBytes.map { $0.map(String.init) }),
            ("default nanoCPUs", defaultNanoCPUs.map { $0.map(String.init) }), ("ports", ports.map { $0.map(\.description) }),
        ]
        return parts.compactMap { name, value in value.map { "\(name) \($0 ?? "unset")" } }.joined(separator: ", ")
    }
}

extension UserQuota {
    /// Throws `QuotaError.exceeded` for the first limit that `current` plus one process of these
    /// limits goes beyond.
    func check(_ current: QuotaUsage, memoryBytes: Int64, nanoCPUs: Int64) throws {
        let after = current.adding(memoryBytes: memoryBytes, nanoCPUs: nanoCPUs)
        if let limit = maxProcesses, after.processes > limit {
            throw QuotaError.exceeded(what: "processes", use: "\(current.processes)", asked: "1", limit: "\(limit)")
        }
        if let limit = maxMemoryBytes, after.memoryBytes > limit {
            throw QuotaError.exceeded(what: "memory", use: LimitText.bytes(current.memoryBytes), asked: LimitText.bytes(memoryBytes),
                                      limit: LimitText.bytes(limit))
        }
        if let limit = maxNanoCPUs, after.nanoCPUs > limit {
            throw QuotaError.exceeded(what: "CPUs", use: LimitText.cpus(current.nanoCPUs), asked: LimitText.cpus(nanoCPUs),
                                      limit: LimitText.cpus(limit))
        }
    }
}

/// Short texts of memory sizes and CPU counts, as quotas and limits are shown.
public enum LimitText {
    /// `512 MiB`, `2 GiB`.
    public static func bytes(_ bytes: Int64) -> String {
        bytes >= 1 << 30 && bytes % (1 << 30) == 0 ? "\(bytes >> 30) GiB" : "\(bytes >> 20) MiB"
    }

    /// `1`, `0.50`, from billionths of a CPU.
    public static func cpus(_ nano: Int64) -> String {
        let value = Double(nano) / 1e9
        return value == value.rounded() ? "\(Int64(value))" : String(format: "%.2f", value)
    }
}

/// Why a quota refused or could not be set.
public enum QuotaError: UserFacingError, Equatable {
    case exceeded(what: String, use: String, asked: String, limit: String)
    case invalid(String)
    case contended

    public var failureKind: FailureKind {
        switch self {
        case .exceeded: return .forbidden
        case .invalid: return .invalidRequest
        case .contended: return .conflict
        }
    }

    public var userMessage: String {
        switch self {
        case .exceeded(let what, let use, let asked, let limit):
            return "the quota of \(what) would be exceeded: \(use) in use and \(asked) more asked, the limit is \(limit); "
                + "remove a process, give smaller limits, or ask an admin for more"
        case .invalid(let why): return why
        case .contended: return "the quota is being changed by many creations at once; try again in a moment"
        }
    }
}
