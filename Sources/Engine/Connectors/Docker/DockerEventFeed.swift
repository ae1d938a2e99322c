import Foundation
import Synchronization

/// What a `DockerEventFeed` reports to its consumer.
public enum DockerFeedUpdate: Sendable {
    /// Docker accepted the stream (again). Re-read the full state now: anything may have changed
    /// while the feed was down.
    case connected(reconnect: Bool)
    case event(DockerEvent)
    /// The stream broke; it is retried after `retryIn`.
    case disconnected(DockerError, retryIn: Duration)
}

/// Docker's `/events` as an endless sequence: it reconnects with exponential back-off (with
/// jitter, capped) and asks for the events since the last one seen, so a reconnect loses
/// nothing; every (re)connect is announced so the consumer re-syncs as a safety net.
public struct DockerEventFeed: Sendable {
    public let client: DockerClient
    public let types: [String]
    public var initialBackoff: Duration = .milliseconds(250)
    public var maximumBackoff: Duration = .seconds(10)

    public init(client: DockerClient, types: [String] = ["node", "service"]) {
        self.client = client
        self.types = types
    }

    /// Starts following events; stops when the consumer stops iterating.
    public func updates() -> AsyncStream<DockerFeedUpdate> {
        let (stream, continuation) = AsyncStream.makeStream(of: DockerFeedUpdate.self, bufferingPolicy: .unbounded)
        let task = Task { await follow(continuation) }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func follow(_ continuation: AsyncStream<DockerFeedUpdate>.Continuation) async {
        var backoff = initialBackoff
        var reconnect = false
        let lastSeen = LastSeenClock()
        while !Task.isCancelled {
            do {
                // Replay from the daemon's own clock, so events between two connections are never lost.
                if lastSeen.since == nil { lastSeen.start(at: try await client.serverTime()) }
                let opened = reconnect
                try await client.streamEvents(types: types, since: lastSeen.since, onOpen: {
                    continuation.yield(.connected(reconnect: opened))
                }) { event in
                    lastSeen.record(event)
                    continuation.yield(.event(event))
                }
                backoff = initialBackoff
                if Task.isCancelled { break }
                continuation.yield(.disconnected(
                    .unreachable(endpoint: client.endpoint.description, .failed(detail: "the event stream closed")),
                    retryIn: backoff))
            } catch {
                if Task.isCancelled { break }
                let dockerError = error as? DockerError
                    ?? .unreachable(endpoint: client.endpoint.description, .failed(detail: "\(error)"))
                continuation.yield(.disconnected(dockerError, retryIn: backoff))
            }
            try? await Task.sleep(for: backoff.jittered())
            backoff = min(backoff * 2, maximumBackoff)
            reconnect = true
        }
        continuation.finish()
    }
}

/// The time of the last event seen (nanoseconds), so a reconnect asks Docker to replay from there.
private final class LastSeenClock: Sendable {
    private let lastNano = Mutex<Int64?>(nil)

    func record(_ event: DockerEvent) {
        guard let time = event.timeNano else { return }
        lastNano.withLock { $0 = max($0 ?? 0, time) }
    }

    /// Starts the clock at `date` (the daemon's time when the feed first connects).
    func start(at date: Date) {
        lastNano.withLock { $0 = $0 ?? Int64(date.timeIntervalSince1970) * 1_000_000_000 }
    }

    /// `seconds.nanoseconds` of the last event, or nil before the first.
    var since: String? {
        lastNano.withLock { $0.map { String(format: "%lld.%09lld", $0 / 1_000_000_000, $0 % 1_000_000_000) } }
    }
}

extension Duration {
    /// This duration scaled by a random factor in 0.8 ... 1.2, so many clients do not retry in step.
    func jittered() -> Duration { self * Double.random(in: 0.8...1.2) }
}
