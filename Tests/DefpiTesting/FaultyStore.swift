import Foundation
import Synchronization

@testable import Engine

/// A `Store` that forwards to a real one and fails or delays chosen calls: the N-th call of a
/// method (or every call from the N-th on), to show what the managers do when the store errs.
public final class FaultyStore: Store {
    /// The calls a fault can target; inserts, updates and deletes by collection.
    public enum Method: Hashable, Sendable {
        case insert(EntityCollection), update(EntityCollection), delete(EntityCollection), fetch(EntityCollection)
        case list(EntityCollection), write, leaseNextChange, renewLease, closeLease
    }

    /// What happens to a targeted call.
    public enum Fault: Sendable {
        case fail(StoreError)
        case delay(Duration)
        /// A batch (`write`) applied one write at a time with `pause` between them, as a store
        /// without transactions (MongoDB) applies it, so others may read between its writes.
        case oneByOne(pause: Duration)
    }

    private struct Rule {
        var calls: ClosedRange<Int>
        var fault: Fault
    }

    public let base: any Store
    private let rules = Mutex<[Method: [Rule]]>([:])
    private let counts = Mutex<[Method: Int]>([:])

    public init(_ base: any Store) { self.base = base }

    public var location: String { base.location }
    public var identity: String { base.identity }

    /// Applies `fault` to calls `calls` (1-based) of `method`, counted from now on.
    public func inject(_ fault: Fault, into method: Method, calls: ClosedRange<Int> = 1...Int.max) {
        let offset = counts.withLock { $0[method, default: 0] }
        let rule = Rule(calls: (calls.lowerBound + offset)...(calls.upperBound == .max ? .max : calls.upperBound + offset),
                        fault: fault)
        rules.withLock { $0[method, default: []].append(rule) }
    }

    /// Removes every fault.
    public func heal() { rules.withLock { $0.removeAll() } }

    /// How many times `method` was called.
    public func calls(of method: Method) -> Int { counts.withLock { $0[method, default: 0] } }

    /// A transient failure, as a store that lost its server for a moment reports it.
    public static let transient = StoreError.backend(location: "faulty", message: "injected transient failure")

    private func pass(_ method: Method) async throws {
        let call = counts.withLock { counts in
            counts[method, default: 0] += 1
            return counts[method]!
        }
        let faults = rules.withLock { $0[method, default: []].filter { $0.calls.contains(call) }.map(\.fault) }
        for fault in faults {
            switch fault {
            case .fail(let error): throw error
            case .delay(let duration): try await Task.sleep(for: duration)
            case .oneByOne: break
            }
        }
    }

    /// The pause between a batch's writes, when this call of `write` is to apply them one by one.
    private func oneByOnePause() -> Duration? {
        let call = counts.withLock { $0[.write, default: 0] }
        return rules.withLock { rules in
            rules[.write, default: []].filter { $0.calls.contains(call) }.compactMap { rule -> Duration? in
                if case .oneByOne(let pause) = rule.fault { return pause }
                return nil
            }.first
        }
    }

    public func insert<E: Entity>(_ entity: E) async throws -> E {
        try await pass(.insert(E.collection))
        return try await base.insert(entity)
    }

    public func update<E: Entity>(_ entity: E) async throws -> E {
        try await pass(.update(E.collection))
        return try await base.update(entity)
    }

    public func fetch<E: Entity>(_ type: E.Type, id: String) async throws -> E? {
        try await pass(.fetch(E.collection))
        return try await base.fetch(type, id: id)
    }

    public func delete<E: Entity>(_ type: E.Type, id: String, revision: Int?) async throws -> Bool {
        try await pass(.delete(E.collection))
        return try await base.delete(type, id: id, revision: revision)
    }

    public func list<E: Entity>(_ type: E.Type, _ query: StoreQuery) async throws -> StorePage<E> {
        try await pass(.list(E.collection))
        return try await base.list(type, query)
    }

    public func count<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int {
        try await base.count(type, filter)
    }

    public func write(_ batch: StoreBatch) async throws {
        try await pass(.write)
        guard let pause = oneByOnePause() else { return try await base.write(batch) }
        for (index, write) in batch.writes.enumerated() {
            if index > 0 { try await Task.sleep(for: pause) }
            var single = StoreBatch()
            switch write {
            case .insert(let entity): single.insert(entity)
            case .update(let entity): single.update(entity)
            case .delete: single = batch  // not needed by the tests: the rest at once
            }
            try await base.write(single)
            if case .delete = write { return }
        }
    }

    public func deleteAll<E: Entity>(_ type: E.Type, _ filter: StoreFilter) async throws -> Int {
        try await pass(.delete(E.collection))
        return try await base.deleteAll(type, filter)
    }

    public func leaseNextChange(owner: String, kinds: Set<PendingChangeKind>, changeId: String?, leaseUntil: Date,
                                now: Date) async throws -> PendingChange? {
        try await pass(.leaseNextChange)
        return try await base.leaseNextChange(owner: owner, kinds: kinds, changeId: changeId, leaseUntil: leaseUntil, now: now)
    }

    public func renewLease(changeId: String, owner: String, leaseUntil: Date, now: Date) async throws -> PendingChange {
        try await pass(.renewLease)
        return try await base.renewLease(changeId: changeId, owner: owner, leaseUntil: leaseUntil, now: now)
    }

    public func closeLease(_ held: PendingChange, owner: String, outcome: LeaseOutcome, audit: AuditEvent?, now: Date)
        async throws -> PendingChange
    {
        try await pass(.closeLease)
        return try await base.closeLease(held, owner: owner, outcome: outcome, audit: audit, now: now)
    }

    public func inventory() async throws -> StoreInventory { try await base.inventory() }

    public func changeMarker() async throws -> String? { try await base.changeMarker() }
}
