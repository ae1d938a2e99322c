import DefpiTesting
import Foundation
import Testing

/// `defpi user ...` as an operator scripts it.
@Suite("User commands", .timeLimit(.minutes(5)))
struct UserCommandTests {
    let environment = ["DEFPI_STORE": StoreBackend.sqlite.freshLocation()]

    func defpi(_ arguments: String..., input: String? = nil) async throws -> DefpiCommand.Result {
        try await DefpiCommand.run(arguments, environment: environment, input: input)
    }

    @Test("add (password from stdin), ls, show, update, passwd, rm; JSON without hashes; refusals are one line")
    func users() async throws {
        let added = try await defpi("user", "add", "alice", "--admin", "--email", "alice@example.org", "--password-stdin",
                                    input: "correct horse\n")
        #expect(added.status == 0 && added.stdout.hasPrefix("added admin alice ("), "\(added.stderr)")
        #expect(try await defpi("user", "add", "bob", "--password-stdin", input: "battery staple\n").status == 0)

        let listed = try await defpi("user", "ls", "-o", "json")
        let users = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(users.compactMap { $0["username"] as? String } == ["alice", "bob"])
        #expect(users.allSatisfy { $0["passwordHash"] == nil } && !listed.stdout.contains("$2"))
        let table = try await defpi("user", "ls")
        #expect(table.stdout.contains("USERNAME") && table.stdout.contains("admin") && table.stdout.contains("alice@example.org"))

        #expect(try await defpi("user", "update", "bob", "--admin", "--email", "bob@example.org").status == 0)
        let shown = try await defpi("user", "show", "bob").stdout
        #expect(shown.split(separator: "\n").contains { $0.hasPrefix("Role ") && $0.hasSuffix(" admin") }, "\(shown)")
        #expect(shown.contains("Defaults") && shown.contains("(no limit)"), "\(shown)")
        #expect(try await defpi("user", "passwd", "bob", "--password-stdin", input: "new secret!\n").status == 0)
        // Your own password needs the current one: two lines, the current one first.
        #expect(try await defpi("user", "add", "dave", "--password-stdin", input: "dave's secret\n").status == 0)
        let unproven = try await defpi("user", "passwd", "dave", "--as", "dave", "--password-stdin", input: "not dave's\nanother one!\n")
        #expect(unproven.status == 1 && unproven.stderr == "defpi: the current password is not right; nothing was changed\n", "\(unproven.stderr)")
        let proven = try await defpi("user", "passwd", "dave", "--as", "dave", "--password-stdin", input: "dave's secret\nanother one!\n")
        #expect(proven.status == 0, "\(proven.stderr)")
        #expect(try await defpi("user", "rm", "dave").status == 0)

        let noTerminal = try await defpi("user", "add", "carol")
        #expect(noTerminal.status == 1)
        #expect(noTerminal.stderr == "defpi: no terminal to ask for the password on; give it with --password-stdin\n")
        let short = try await defpi("user", "add", "carol", "--password-stdin", input: "short\n")
        #expect(short.stderr == "defpi: the password is too short; use at least 8 characters\n")
        let taken = try await defpi("user", "add", "alice", "--password-stdin", input: "long enough\n")
        #expect(taken.stderr == "defpi: a user named alice exists already\n")

        #expect(try await defpi("user", "rm", "bob").status == 0)
        let last = try await defpi("user", "rm", "alice")
        #expect(last.status == 1 && last.stderr == "defpi: cannot remove alice: they are the last admin; make another user admin first\n")
        let gone = try await defpi("user", "show", "bob")
        #expect(gone.status == 1 && gone.stderr == "defpi: no user matches \"bob\"; `defpi user ls` lists them\n")
    }
}
