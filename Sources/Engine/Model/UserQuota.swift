import Foundation

/// What one user's processes may take at most, set by an admin; a limit left nil is not
/// limited. The record (its id is the user's) also carries the claims of creations under way,
/// so that creations at the same time, on any engine, cannot together exceed it: each claims
/// its share in a compare-and-set write of this record before its process is stored.
public struct UserQuota: Entity {
    public static let collection = EntityCollection.userQuota

    /// The user's id.
    public var id: String
    public var revision: Int
    /// Processes not terminated.
    public var maxProcesses: Int?
    /// The sum of the processes' memory limits.
    public var maxMemoryBytes: Int64?
    /// The sum of the processes' CPU limits, in billionths of a CPU.
    public var maxNanoCPUs: Int64?
    /// The limits a process of the user gets when it is created without them.
    public var defaultMemoryBytes: Int64?
    public var defaultNanoCPUs: Int64?
    /// The host ports the user's processes may publish (nil: everyone's, or the built-in range).
    public var ports: PortRange?
    /// Creations under way: counted until their process is stored, or for a minute at most (a
    /// creation that crashed before storing its process).
    public var claims: [QuotaClaim]

    /// The id of the record whose limits and defaults hold for every user without their own.
    public static let everyone = "000000000000000000000000"

    public init(id: String, revision: Int = 0, maxProcesses: Int? = nil, maxMemoryBytes: Int64? = nil, maxNanoCPUs: Int64? = nil,
                defaultMemoryBytes: Int64? = nil, defaultNanoCPUs: Int64? = nil, ports: PortRange? = nil, claims: [QuotaClaim] = []) {
        self.ports = ports
        self.id = id
        self.revision = revision
        self.maxProcesses = maxProcesses
        self.maxMemoryBytes = maxMemoryBytes
        self.maxNanoCPUs = maxNanoCPUs
        self.defaultMemoryBytes = defaultMemoryBytes
        self.defaultNanoCPUs = defaultNanoCPUs
        self.claims = claims
    }

    /// Whether no limit is set (defaults may be).
    public var isUnlimited: Bool { maxProcesses == nil && maxMemoryBytes == nil && maxNanoCPUs == nil }

    /// This record's settings where it has them, else `fallback`'s (claims stay this record's).
    func over(_ fallback: UserQuota?) -> UserQuota {
        var merged = self
        merged.maxProcesses = maxProcesses ?? fallback?.maxProcesses
        merged.maxMemoryBytes = maxMemoryBytes ?? fallback?.maxMemoryBytes
        merged.maxNanoCPUs = maxNanoCPUs ?? fallback?.maxNanoCPUs
        merged.defaultMemoryBytes = defaultMemoryBytes ?? fallback?.defaultMemoryBytes
        merged.defaultNanoCPUs = defaultNanoCPUs ?? fallback?.defaultNanoCPUs
        merged.ports = ports ?? fallback?.ports
        return merged
    }
}

/// A range of host ports, `from` to `to` inclusive.
public struct PortRange: Codable, Sendable, Equatable, CustomStringConvertible {
    public var from: Int
    public var to: Int

    public init(from: Int, to: Int) {
        self.from = from
        self.to = to
    }

    /// `31000-31099`; nil when the text is not two port numbers with a dash between.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let from = Int(parts[0]), let to = Int(parts[1]) else { return nil }
        self.init(from: from, to: to)
    }

    /// The ports users may publish when no admin said otherwise (Kubernetes' NodePort range).
    public static let tenantDefault = PortRange(from: 30000, to: 32767)

    public func contains(_ port: Int) -> Bool { port >= from && port <= to }
    public var description: String { "\(from)-\(to)" }
}

/// One creation's share of a quota, claimed before its process is stored.
public struct QuotaClaim: Codable, Sendable, Equatable {
    public var processId: String
    public var memoryBytes: Int64
    public var nanoCPUs: Int64
    public var at: Date

    public init(processId: String, memoryBytes: Int64, nanoCPUs: Int64, at: Date) {
        self.processId = processId
        self.memoryBytes = memoryBytes
        self.nanoCPUs = nanoCPUs
        self.at = at
    }
}

/// What a user's processes take now, beside their quota.
public struct QuotaUsage: Sendable, Equatable, Codable {
    public var processes: Int
    public var memoryBytes: Int64
    public var nanoCPUs: Int64

    public init(processes: Int = 0, memoryBytes: Int64 = 0, nanoCPUs: Int64 = 0) {
        self.processes = processes
        self.memoryBytes = memoryBytes
        self.nanoCPUs = nanoCPUs
    }

    /// This usage with one more process of these limits, saturating.
    func adding(memoryBytes: Int64, nanoCPUs: Int64) -> QuotaUsage {
        QuotaUsage(processes: processes + 1, memoryBytes: self.memoryBytes.addingReportingOverflow(memoryBytes).overflow ? .max : self.memoryBytes + memoryBytes,
                   nanoCPUs: self.nanoCPUs.addingReportingOverflow(nanoCPUs).overflow ? .max : self.nanoCPUs + nanoCPUs)
    }
}
