import DefpiTesting
import Engine
import Foundation
import Testing

/// The verbs' read paths acting as a user (`--as`), on a store holding two users' environments:
/// each sees their own, nothing of the other's, and another's thing by id is not found.
@Suite("Command line access", .timeLimit(.minutes(5)))
struct CLIAccessTests {
    @Test("every read verb --as alice or --as bob: their own things, nothing of the other's", arguments: ["alice", "bob"])
    func reads(viewer: String) async throws {
        let world = try await TwoEnvironments()
        let other = viewer == "alice" ? "bob" : "alice"
        // No Docker: the node verbs list what the store holds.
        let environment = ["DEFPI_STORE": world.location, "DOCKER_HOST": "unix:///nonexistent/docker.sock",
                           "DEFPI_REGISTRY": "http://127.0.0.1:1"]
        func defpi(_ arguments: [String]) async throws -> DefpiCommand.Result {
            try await DefpiCommand.run(arguments + ["--as", viewer], environment: environment)
        }
        var seen = ""
        for verb in [["user", "ls", "-o", "json"], ["node", "ls", "-o", "json"], ["pool", "ls"], ["process", "ls", "-o", "json"],
                     ["connection", "ls", "-o", "json"], ["change", "ls", "-o", "json"]] {
            let result = try await defpi(verb)
            #expect(result.status == 0, "\(verb): \(result.stderr)")
            seen += result.stdout + result.stderr
        }
        for own in ["\(viewer)-secret-process-1", "\(viewer)-secret-node", "\(viewer)-secret-change", world.connection[viewer]!.id] {
            #expect(seen.contains(own), "--as \(viewer) shows no \(own):\n\(seen)")
        }
        let theirs: [[String]] = [
            ["user", "show", other], ["node", "show", world.privateNode[other]!.id],
            ["process", "show", world.processes[other]![0].id], ["process", "history", world.processes[other]![0].id],
            ["connection", "show", world.connection[other]!.id], ["change", "show", world.change[other]!.id],
        ]
        for verb in theirs {
            let result = try await defpi(verb)
            #expect(result.status != 0 && result.stderr.contains("no "), "\(verb): \(result.stdout)\(result.stderr)")
            seen += result.stdout + result.stderr.replacingOccurrences(of: verb[2], with: "")
        }
        for secret in world.secrets(of: other) {
            #expect(!seen.contains(secret), "--as \(viewer) shows \(secret):\n\(seen)")
        }
        #expect(!seen.contains("\"token\""))
    }
}
