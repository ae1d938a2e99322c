import Foundation

/// The swarm has one `defpi-gateway` service, and one Engine socket behind it: tests that run
/// processes on the swarm take turns with it, in one shared directory, and remove it after.
public enum SwarmGateway {
    /// The gateway directory every swarm test uses (the test bed's manager shares this host's files).
    public static let directory = TemporaryDirectory.make().path + "/gateway"

    private static let turns = Turns()

    /// Runs `body` while no other test uses the swarm's gateway.
    public static func turn<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await turns.take()
        do {
            let result = try await body()
            await turns.give()
            return result
        } catch {
            await turns.give()
            throw error
        }
    }

    /// A first-come, first-served lock for tasks.
    private actor Turns {
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func take() async {
            guard busy else {
                busy = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func give() {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
    }
}
