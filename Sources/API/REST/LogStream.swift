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

    /// At most `window` lines between the reader and the writer; closing lets a waiting reader go.
    final class Gate: Sendable {
        private let slots: DispatchSemaphore
        private let closed = Atomic<Bool>(false)

        init(window: Int) { slots = DispatchSemaphore(value: window) }

        /// Waits for a slot; false once the writer is gone.
        func enter() -> Bool {
            while slots.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
                if closed.load(ordering: .acquiring) { return false }
            }
            return !closed.load(ordering: .acquiring)
        }

        func leave() { slots.signal() }

        func close() { closed.store(true, ordering: .releasing) }
    }
}
