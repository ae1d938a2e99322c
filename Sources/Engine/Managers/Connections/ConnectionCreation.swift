import Foundation
import Logging

/// Stores a new connection so that connections made at the same time (two API requests, two
/// engines on one store, on a backend with or without transactions) keep the rules that are
/// checked one at a time: one connection on an interface that allows one, one port for each
/// connection of a process.
///
/// A creation checks against the connections made, then stores its connection as
/// provisional, then reads the processes' connections again. Of two creations that clash, at
/// least one sees the other in that second read (each stored before it read), and a creation
/// that sees a clash takes its connection back and tries again a moment later; so two that
/// clash never both stay. One that sees none confirms its connection in the same write that
/// queues telling its sides, so no side is ever told of a connection that is taken back. A
/// crash before that write leaves a provisional connection: once it is older than any creation
/// can be (`provisionalAge`), the next creation it is in the way of, or the re-sync, removes it.
struct ConnectionCreation: Sendable {
    let store: any Store
    let queue: PendingChangeManager
    let notifications: EngineNotifications
    let logger: Logger

    /// How many times a creation is tried while it keeps meeting others.
    static let attempts = 20

    /// The longest a creation runs, all its tries included.
    static let creationTime: TimeInterval = 10

    /// How old a provisional connection must be to be left by a creation that stopped: a
    /// younger one may be a creation still running, here or on another engine whose clock may
    /// differ by the queue's maximum clock skew (the same assumption as its leases).
    var provisionalAge: TimeInterval { Self.creationTime + queue.settings.maximumClockSkew.seconds }

    /// Checks, stores and confirms a connection between `a` and `b`, with the changes that tell
    /// each side; throws the first rule broken, and leaves nothing behind.
    func create(_ a: ConnectionSide, _ b: ConnectionSide, actor: String) async throws
        -> (connection: Connection, changes: [PendingChange])
    {
        for round in 1...Self.attempts {
            if let made = try await attempt(a, b, actor: actor) { return made }
            // A little apart, so creations that keep meeting stop meeting.
            try await Task.sleep(for: .milliseconds(Int.random(in: 1...(10 * round))))
        }
        let inTheWay = try await connections(of: a, b).filter(\.provisional).map(\.id)
        throw ConnectionError.contended(first: a.label, second: b.label, others: inTheWay)
    }

    /// Removes `connection` when it is provisional and old enough to be left by a creation that
    /// stopped; returns whether it did. At its revision: one confirmed meanwhile stays.
    func removeIfLeft(_ connection: Connection, now: Date = Date()) async -> Bool {
        guard connection.provisional, now.timeIntervalSince(connection.created ?? .distantPast) > provisionalAge else { return false }
        guard (try? await store.delete(Connection.self, id: connection.id, revision: connection.revision)) == true else { return false }
        logger.info("removed connection \(connection.id) (\(connection.pair)): its creation stopped before confirming it")
        return true
    }

    /// One try: the connection made, or nil when it met another being made at the same time.
    private func attempt(_ a: ConnectionSide, _ b: ConnectionSide, actor: String) async throws
        -> (connection: Connection, changes: [PendingChange])?
    {
        var existing: [Connection] = []
        for connection in try await connections(of: a, b) where await !removeIfLeft(connection) { existing.append(connection) }
        let labels = EndpointLabels(processes: try await store.all(ServiceProcess.self, .where("userId", is: a.process.userId)))
        let (mine, theirs) = try ConnectionRules.check(a, b, existing: existing.filter { !$0.provisional }, labels: labels.label)
        let connection = Connection(
            endpoint1: Endpoint(processId: a.process.id, interfaceId: a.interface.id, interfaceVersionName: mine.versionName),
            endpoint2: Endpoint(processId: b.process.id, interfaceId: b.interface.id, interfaceVersionName: theirs.versionName),
            port: try ConnectionRules.freePort(for: [a.process.id, b.process.id], existing: existing),
            userId: a.process.userId, provisional: true)
        do {
            _ = try await store.insert(connection)
        } catch StoreError.duplicate(.connection, _, _) {
            return nil  // The same two ends, being made (or made) just now: the next try tells which.
        }
        CrashPoint.connectInserted.reached()
        let single = [(a, connection.endpoint1), (b, connection.endpoint2)].filter { !$0.0.interface.allowMultiple }.map(\.1)
        let clashes: Bool
        do {
            clashes = ConnectionRules.clashes(connection, single: single, with: try await connections(of: a, b))
        } catch {
            await takeBack(connection)
            throw error
        }
        guard !clashes else {
            await takeBack(connection)
            return nil
        }
        return try await confirm(connection, a, b, actor: actor, versions: "\(mine.versionName)/\(theirs.versionName)")
    }

    /// Confirms `connection` and queues telling each side, in one write; audits it.
    private func confirm(_ connection: Connection, _ a: ConnectionSide, _ b: ConnectionSide, actor: String, versions: String)
        async throws -> (connection: Connection, changes: [PendingChange])
    {
        var confirmed = connection.atRevision(1)
        confirmed.provisional = false
        var intent = StoreBatch()
        intent.update(confirmed)
        let description = "\(a.label) ↔ \(b.label)"
        let changes: [PendingChange]
        do {
            changes = try await queue.enqueue([a.process, b.process].map { process in
                try PendingChange(ConnectEndpointStep.self, .init(connectionId: connection.id, processId: process.id),
                                  description: "connection \(description): tell \(process.name)",
                                  resources: [process.id, EndpointSubject.resource(connection.id, process.id)],
                                  userId: process.userId, createdBy: actor)
            }, with: intent)
        } catch StoreError.notFound(.connection, _), StoreError.conflict(.connection, _, _, _) {
            // Removed as left over (this creation outlived `creationTime`), or by its owner.
            await takeBack(connection)
            throw ConnectionError.contended(first: a.label, second: b.label, others: [connection.id])
        } catch {
            await takeBack(connection)
            throw error
        }
        notifications.publish(.entity(.connection, id: connection.id, change: .added))
        await store.audit(AuditEvent(actor: actor, action: "connection.created", target: connection.id,
                                     detail: "\(description) (\(versions), port \(connection.port))"), logger: logger)
        return (confirmed.atRevision(2), changes)
    }

    /// The connections of both sides' processes, made or being made, each once.
    private func connections(of a: ConnectionSide, _ b: ConnectionSide) async throws -> [Connection] {
        try await store.all(Connection.self, .connections(of: a.process.id, b.process.id))
    }

    /// Removes a provisional connection (no side was told of it). Should that fail, the re-sync
    /// removes it later; until then it only holds its ends against other creations.
    private func takeBack(_ connection: Connection) async {
        do {
            _ = try await store.delete(Connection.self, id: connection.id, revision: 1)
        } catch {
            logger.warning("could not take back provisional connection \(connection.id): \(error); the re-sync removes it")
        }
    }
}
