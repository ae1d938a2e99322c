import Engine
import Foundation

/// The swarm has one `defpi-gateway` service, and one Engine socket behind it: tests that run
/// processes on the swarm take turns with it, in one shared directory, and remove it after.
/// Their time limits (10 min) cover the wait for their turn, which grows with every such test.
public enum SwarmGateway {
    /// The gateway directory every swarm test uses (the test bed's manager shares this host's files).
    public static let directory = TemporaryDirectory.make().path + "/gateway"

    private static let turns = Turns()

    /// Runs `body` while no other test uses the swarm's gateway, then removes the gateway's swarm
    /// service before the next test's turn, whatever `body` did: a removal left to run later
    /// would take the next test's gateway away in the middle of its turn.
    public static func turn<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await turns.run {
            defer { removeGatewayBlocking() }
            return try await body()
        }
    }

    /// Removes the gateway service, holding the thread: a `defer` cannot await, and the turn must
    /// not pass on before it is gone.
    private static func removeGatewayBlocking() {
        guard let socket = TestBed.dockerEndpoint?.unixSocketPath else { return }
        _ = try? ChildProcess.runBlocking("/usr/bin/curl", ["-s", "-o", "/dev/null", "-X", "DELETE", "--unix-socket", socket,
                                                           "http://docker/services/\(GatewayManager.serviceName)"])
    }
}

/// The swarm's nodes stay as they are: tests that stop a node, and tests that compare two
/// looks at the nodes, take turns.
public enum SwarmNodes {
    private static let turns = Turns()

    /// Runs `body` while no other test stops a node or needs the nodes unchanged.
    public static func turn<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await turns.run(body)
    }
}

/// A first-come, first-served lock for tasks.
actor Turns {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` holding the lock.
    nonisolated func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await take()
        do {
            let result = try await body()
            await give()
            return result
        } catch {
            await give()
            throw error
        }
    }

    private func take() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func give() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}
