import DefpiTesting
import Foundation
import Testing

extension SwarmNodeTests {
/// The console's colours as a real terminal (tmux, xterm-256color) holds them: what the golden
/// renders cannot show, since they are text.
@Suite("Console colours on a terminal", .timeLimit(.minutes(10)))
struct ConsoleColourTests {
    static let escape = "\u{1B}["

    /// The console on the test bed's swarm, once its nodes are listed and the screen with
    /// attributes shows `settled` (the selected row drawn; a loaded machine draws it a frame
    /// later); the last screen if it never does.
    func nodesScreen(arguments: String = "", environment extra: [String: String] = [:],
                     settled: @escaping @Sendable (String) -> Bool) async throws -> String {
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath, "the test bed's swarm is not up")
        let environment = ["DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": TemporaryDirectory.make().path + "/defpi.sqlite"]
            .merging(extra) { _, given in given }
        let console = try TmuxSession.console(arguments, environment: environment)
        defer { console.kill() }
        #expect(await eventually(timeout: .seconds(10)) { console.capture().contains("Nodes [\(TestBed.nodeNames.count)]") }, "\(console.capture())")
        // The nodes arrive as the sync finds them, and the selection stays on the row it was on:
        // go to the first row once they are all there.
        console.send("Home")
        _ = await eventually(timeout: .seconds(5)) { settled(console.captureWithAttributes()) }
        return console.captureWithAttributes()
    }

    /// The line of the screen that shows `node`.
    func row(_ node: String, in screen: String) throws -> String {
        try #require(screen.split(separator: "\n").first { $0.contains(" \(node) ") || $0.contains("m\(node) ") }.map(String.init),
                     "no row for \(node) in \(screen)")
    }

    @Test("the default theme: a ready node's status in green, the selected row black on cyan")
    func defaultTheme() async throws {
        let screen = try await nodesScreen { $0.contains("\(Self.escape)46m") }
        let worker = try row(TestBed.nodeNames[1], in: screen)
        #expect(worker.contains("\(Self.escape)32mready"), "\(worker.debugDescription)")
        let selected = try row(TestBed.nodeNames[0], in: screen)
        #expect(selected.contains("\(Self.escape)30m\(Self.escape)46m\(TestBed.nodeNames[0])"), "\(selected.debugDescription)")
    }

    @Test("a theme file's colours reach the terminal, xterm-256 indexes included")
    func themeFile() async throws {
        let theme = TemporaryDirectory.make().path + "/orange.yaml"
        try """
        name: orange
        border: ascii
        roles:
          ok: {fg: 208}
          selected: {fg: 16, bg: 226}
        """.write(toFile: theme, atomically: true, encoding: .utf8)
        let screen = try await nodesScreen(arguments: "--theme \(theme)") { $0.contains("\(Self.escape)48;5;226m") }
        let worker = try row(TestBed.nodeNames[1], in: screen)
        #expect(worker.contains("\(Self.escape)38;5;208mready"), "\(worker.debugDescription)")
        let selected = try row(TestBed.nodeNames[0], in: screen)
        #expect(selected.contains("\(Self.escape)38;5;16m\(Self.escape)48;5;226m\(TestBed.nodeNames[0])"),
                "\(selected.debugDescription)")
    }

    @Test("NO_COLOR: no colour at all, the selected row still marked (reverse)")
    func noColor() async throws {
        let screen = try await nodesScreen(environment: ["NO_COLOR": "1"]) { $0.contains("\(Self.escape)7m") }
        let colours = try Regex(#"\x1B\[(3[0-7]|9[0-7]|4[0-7]|10[0-7]|38;|48;)"#)
        #expect(screen.firstMatch(of: colours) == nil, "\(screen.debugDescription)")
        let selected = try row(TestBed.nodeNames[0], in: screen)
        #expect(selected.contains("\(Self.escape)7m"), "\(selected.debugDescription)")
    }
}
}
