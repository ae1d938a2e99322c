import Synchronization

/// Wakes an idle worker loop before its poll interval is up: this engine queued a change, or a
/// change ended and freed the resources another one waits for. A ring with nobody waiting is
/// kept, so the next wait returns at once; several rings in between count as one.
///
/// Hand-written: neither the standard library nor swift-async-algorithms offers a wait on a
/// signal with a timeout.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
        var waits = 0
    }

    private let state = Mutex(State())

    /// Wakes the current wait, or the next one.
    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when the bell rings, `timeout` passes or the task is cancelled, whichever comes
    /// first. One loop waits at a time.
    func wait(atMost timeout: Duration) async {
        let wait = state.withLock { state -> Int in
            state.waits += 1
            return state.waits
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            ring(ifStill: wait)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    guard !state.rung, !Task.isCancelled else {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            ring(ifStill: wait)
        }
        timer.cancel()
    }

    /// Rings only while wait number `wait` is still the current one: a late timer never cuts a
    /// later wait short.
    private func ring(ifStill wait: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.waits == wait, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}
