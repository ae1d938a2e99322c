import DefpiTesting
import Engine
import Foundation
import Testing

/// The Docker API version, negotiated from what `/_ping` answers: the daemon's own, capped at
/// the newest defpi speaks, refused below the oldest; versions compare as numbers, not text.
/// Against a fake daemon that answers only `/_ping` (`Tests/Fixtures/docker-ping.py`).
@Suite("Docker API version", .timeLimit(.minutes(1)))
struct DockerVersionTests {
    /// A daemon whose `/_ping` says `version` (nothing when nil), and a client of it.
    func daemon(saying version: String?) async throws -> (daemon: ChildProcess, client: DockerClient) {
        let port = freePort()
        let daemon = try ChildProcess("/usr/bin/env", ["python3", TestBed.repositoryRoot + "/Tests/Fixtures/docker-ping.py",
                                                       "\(port)"] + (version.map { [$0] } ?? []))
        #expect(await waitForPort(port), "\(daemon.errors)")
        return (daemon, DockerClient(endpoint: try DockerEndpoint(host: "tcp://127.0.0.1:\(port)")))
    }

    @Test("the daemon's version is used, capped at the newest defpi speaks; later calls carry it", arguments: [
        ("1.41", "1.41"), ("1.44", "1.44"), ("1.47", "1.47"), ("1.52", "1.47"), ("1.100", "1.47"), ("2.0", "1.47"),
    ])
    func negotiated(server: String, chosen: String) async throws {
        let (daemon, client) = try await daemon(saying: server)
        defer { daemon.kill() }
        #expect(try await client.negotiateVersion() == chosen)
        _ = try? await client.nodes()
        #expect(daemon.output.contains("GET /v\(chosen)/nodes"), "\(daemon.output)")
    }

    @Test("a daemon older than the oldest version defpi speaks is refused, saying both", arguments: ["1.40", "1.9", "0.99"])
    func tooOld(server: String) async throws {
        let (daemon, client) = try await daemon(saying: server)
        defer { daemon.kill() }
        await #expect(throws: DockerError.unsupportedVersion(server: server, minimum: DockerClient.minimumAPIVersion)) {
            try await client.negotiateVersion()
        }
        await #expect(throws: DockerError.self) { try await client.nodes() }
        #expect(!daemon.output.contains("/nodes"), "a call went out on a version that was refused: \(daemon.output)")
    }

    @Test("a /_ping without an Api-Version header is not taken for Docker")
    func noVersion() async throws {
        let (daemon, client) = try await daemon(saying: nil)
        defer { daemon.kill() }
        await #expect {
            try await client.negotiateVersion()
        } throws: { error in
            guard case DockerError.malformedResponse(_, let detail) = error else { return false }
            return detail.contains("Api-Version")
        }
    }
}
