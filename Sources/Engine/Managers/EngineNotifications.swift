import Foundation
import Synchronization

/// What changed in the Engine's view, for fronts to repaint.
public enum EngineNotification: Sendable, Equatable {
    /// An entity was added, modified or deleted.
    case entity(EntityCollection, id: String, change: EntityChange)
    /// The Docker event stream is up (`nil`) or down (with the reason).
    case dockerConnection(problem: String?)
}

/// How an entity changed; the console colours rows by it.
public enum EntityChange: String, Sendable, Equatable {
    case added, modified, deleted
}

/// Fans Engine notifications out to every subscriber. Each subscriber gets its own unbounded
/// stream, so a slow front never blocks the Engine.
public final class EngineNotifications: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<EngineNotification>.Continuation]>([:])

    public init() {}

    /// A stream of every notification published from now on, until the consumer stops.
    public func subscribe() -> AsyncStream<EngineNotification> {
        let (stream, continuation) = AsyncStream.makeStream(of: EngineNotification.self)
        let id = UUID()
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.removeValue(forKey: id) } }
        return stream
    }

    public func publish(_ notification: EngineNotification) {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(notification) }
    }
}
