import Engine
import Foundation
import Hummingbird
import Synchronization

/// A process's log lines as a streamed response body, with bounded memory: Docker's reader
/// (on a thread of its own transfer) waits while `window` lines are on their way to a slow
/// client, instead of the server gathering everything first.
struct LogStream: Sendable {
    static let window = 256

    let read: @Sendable (_ onLine: @escaping @Sendable (DockerLogLine) -> Void) async throws -> Void

    var body: ResponseBody {
        ResponseBody { writer in
            let (lines, continuation) = AsyncStream<String>.makeStream()
            let gate = Gate(window: Self.window)
            let reader = Task {
                defer { continuation.finish() }
                do {
                    try await read { line in
                        if gate.enter() { continuation.yield(line.text) }
                    }
                } catch {
                    continuation.yield("defpi: the logs ended early: \(error)")
                }
            }
            defer {
                gate.close()
                reader.cancel()
            }
            for await line in lines {
                try await writer.write(ByteBuffer(string: line + "\n"))
                gate.leave()
            }
            try await writer.finish(nil)
        }
    }

    /// How long the reader waits for a client that reads nothing before the stream is given up:
    /// the reader's thread is not held by a client that never reads.
    static let stalledClient: Duration = .seconds(30)

    /// At most `window` lines between the reader and the writer; closing lets a waiting reader
    /// go, and a reader that waited `stalledClient` for one slot closes it.
    final class Gate: Sendable {
        private let slots: DispatchSemaphore
        private let closed = Atomic<Bool>(false)

        init(window: Int) { slots = DispatchSemaphore(value: window) }

        /// Waits for a slot; false once the writer is gone or stalled (then at once for every
        /// line after).
        func enter() -> Bool {
            let deadline = ContinuousClock.now + LogStream.stalledClient
            while !closed.load(ordering: .acquiring) {
                if slots.wait(timeout: .now() + .milliseconds(200)) == .success { return !closed.load(ordering: .acquiring) }
                if ContinuousClock.now > deadline { close() }
            }
            return false
        }

        func leave() { slots.signal() }

        func close() { closed.store(true, ordering: .releasing) }
    }
}
