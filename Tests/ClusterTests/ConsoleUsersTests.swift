import DefpiTesting
import Engine
import Foundation
import Testing

/// The real `defpi console` in tmux, signed in: users managed from the Users pane, a user
/// signing in with a password prompt and seeing their own environment, an admin viewing as
/// a user, a wrong password refused.
@Suite("Console users", .timeLimit(.minutes(2)))
struct ConsoleUsersTests {
    let environment: [String: String] = {
        var environment = ["DEFPI_STORE": TemporaryDirectory.make().path + "/defpi.sqlite"]
        if let socket = TestBed.dockerEndpoint?.unixSocketPath { environment["DOCKER_HOST"] = "unix://\(socket)" }
        return environment
    }()

    func defpi(_ arguments: String..., input: String? = nil) async throws -> DefpiCommand.Result {
        try await DefpiCommand.run(arguments, environment: environment, input: input)
    }

    @Test("the Users pane adds an admin (password as stars) and deletes a user; a user signs in; an admin views as them")
    func usersPaneAndSignIn() async throws {
        #expect(try await defpi("user", "add", "alice", "--password-stdin", input: "alice-password\n").status == 0)
        let console = try TmuxSession.console(environment: environment)
        defer { console.kill() }
        console.send("7")
        #expect(await console.sees("Users [1]"), "\(console.capture())")
        console.send("n")
        #expect(await console.sees("new user's name:"), "\(console.capture())")
        console.send("-l", "carol")
        console.send("Enter")
        #expect(await console.sees("password for carol"), "\(console.capture())")
        console.send("-l", "carol-password")
        #expect(await console.sees("**************"), "\(console.capture())")
        #expect(!console.capture().contains("carol-password"))
        console.send("Enter")
        #expect(await console.sees("role of carol"), "\(console.capture())")
        console.send("Down")
        console.send("Enter")
        #expect(await console.sees("added admin carol"), "\(console.capture())")
        #expect(await console.row("carol", contains: "admin", within: 10), "\(console.capture())")
        // alice is the first row, and owns nothing.
        console.send("g")
        console.send("d")
        #expect(await console.sees("delete user alice?"), "\(console.capture())")
        console.send("y")
        #expect(await console.sees("deleted the user"), "\(console.capture())")
        console.send("q")
        let users = try await defpi("user", "ls", "-o", "json")
        #expect(users.stdout.contains("\"carol\"") && !users.stdout.contains("\"alice\""), "\(users.stdout)")

        #expect(try await defpi("user", "add", "dave", "--password-stdin", input: "dave-password\n").status == 0)
        #expect(try await defpi("user", "quota", "dave", "--processes", "3", "--memory", "1g").status == 0)
        let carol = try TmuxSession.console("--user carol", environment: environment)
        defer { carol.kill() }
        #expect(await carol.sees("Password for carol:"), "\(carol.capture())")
        carol.send("-l", "carol-password")
        carol.send("Enter")
        #expect(await carol.sees("Nodes ["), "\(carol.capture())")
        #expect(carol.capture().split(separator: "\n").first?.contains("carol") == true, "\(carol.capture())")
        // The Users pane shows each user's quota.
        carol.send("7")
        #expect(await carol.sees("Users [2]"), "\(carol.capture())")
        #expect(await carol.row("dave", contains: "3 processes", "1 GiB", within: 10), "\(carol.capture())")
        // Her own password: the current one first; a wrong one changes nothing.
        /// `p` on her own row, answered with `current` and a new password; waits for `outcome`.
        func changeOwnPassword(current: String, outcome: String) async {
            carol.send("p")
            #expect(await carol.sees("your current password:"), "\(carol.capture())")
            carol.send("-l", current)
            carol.send("Enter")
            #expect(await carol.sees("new password:"), "\(carol.capture())")
            carol.send("-l", "carol-new-password")
            carol.send("Enter")
            #expect(await carol.sees(outcome), "\(carol.capture())")
        }
        carol.send("g")
        await changeOwnPassword(current: "not-her-password", outcome: "the current password is not right; nothing was changed")
        await changeOwnPassword(current: "carol-password", outcome: "new password for carol")
        carol.send("q")

        // The local operator viewing as dave sees dave alone among the users.
        let asDave = try TmuxSession.console("--as dave", environment: environment)
        defer { asDave.kill() }
        asDave.send("7")
        #expect(await asDave.sees("Users [1]"), "\(asDave.capture())")
        #expect(asDave.capture().split(separator: "\n").first?.contains("as dave") == true, "\(asDave.capture())")
        // Each question of the wizard comes from the Engine: wait for it before typing.
        asDave.send("n")
        #expect(await asDave.sees("new user's name:"), "\(asDave.capture())")
        asDave.send("-l", "eve")
        asDave.send("Enter")
        #expect(await asDave.sees("password for eve"), "\(asDave.capture())")
        asDave.send("-l", "eve-password")
        asDave.send("Enter")
        #expect(await asDave.sees("role of eve"), "\(asDave.capture())")
        asDave.send("Enter")
        #expect(await asDave.sees("only an admin may add users"), "\(asDave.capture())")
        asDave.send("q")

        // A wrong password (her old one) ends the console before it starts, saying why (the shell keeps the pane).
        let wrong = try TmuxSession.console("--user carol; sleep 30", environment: environment)
        defer { wrong.kill() }
        #expect(await wrong.sees("Password for carol:"), "\(wrong.capture())")
        wrong.send("-l", "carol-password")
        wrong.send("Enter")
        #expect(await wrong.sees("wrong username or password"), "\(wrong.capture())")
    }

    @Test("viewing as alice or as bob, no pane shows anything of the other's environment, and each sees their own",
          arguments: ["alice", "bob"])
    func eachSeesTheirOwn(viewer: String) async throws {
        let world = try await TwoEnvironments()
        let other = viewer == "alice" ? "bob" : "alice"
        // Read-only and with no Docker: nothing works the queue or syncs the nodes under the test.
        let console = try TmuxSession.console("--as \(viewer) --read-only", environment: [
            "DEFPI_STORE": world.location, "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        ])
        defer { console.kill() }
        #expect(await console.sees("\(viewer)-secret-node"), "\(console.capture())")
        var screens: [String] = []
        // Each pane is judged once it shows (its name in the header) and has loaded (the viewer's
        // own item in it, or its title where the viewer has nothing).
        let panes = [("nodes", "\(viewer)-secret-node"), ("processes", "\(viewer)-secret-process"), ("graph", "\(viewer)-secret-process"),
                     ("queue", "\(viewer)-secret-change"), ("services", "Services ["), ("pools", "Pools ["), ("users", "Users [1]")]
        for (index, (pane, loaded)) in panes.enumerated() {
            console.send("\(index + 1)")
            #expect(await console.sees("‹\(pane)›"), "\(console.capture())")
            #expect(await console.sees(loaded), "the \(pane) pane did not load: \(console.capture())")
            screens.append(console.capture())
        }
        let seen = screens.joined(separator: "\n")
        for secret in world.secrets(of: other) {
            #expect(!seen.contains(secret), "viewing as \(viewer), a pane shows \(secret):\n\(seen)")
        }
        for own in ["\(viewer)-secret-process-1", "\(viewer)-secret-node", "\(viewer)-secret-change"] {
            #expect(seen.contains(own), "viewing as \(viewer), no pane shows \(own):\n\(seen)")
        }
        console.send("q")
    }
}
