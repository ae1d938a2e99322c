import DefpiTesting
import Engine
import Foundation
import Testing

@testable import Console

/// The console's keys: prompts, actions, commands and the filter, without a terminal.
@Suite("Console keys", .timeLimit(.minutes(2)))
struct ConsoleKeysTests {
    func type(_ text: String, into view: inout ConsoleView) -> ConsoleEffect? {
        var effect: ConsoleEffect?
        for character in text { effect = view.handle(.character(character)) ?? effect }
        return effect
    }

    @Test("classify the selected node public into a pool, or private to a user")
    func classify() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.down)
        _ = view.handle(.character("c"))
        #expect(view.prompt?.label == "classify edge-1 as (pool NAME | @USER): ")
        _ = type("edge", into: &view)
        #expect(view.handle(.enter) == .run(ClassifyNodes(nodeIds: ["n2"], as: .pool("edge"))))
        #expect(view.prompt == nil)
        _ = view.handle(.character("c"))
        _ = type("@alice", into: &view)
        #expect(view.handle(.enter) == .run(ClassifyNodes(nodeIds: ["n2"], as: .owner("alice"))))
    }

    @Test("rename starts from the current name; declassify asks y/n; n creates a pool; esc cancels")
    func otherActions() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("r"))
        #expect(view.prompt?.text == "tb-mgr")
        for _ in 0..<6 { _ = view.handle(.backspace) }
        _ = type("manager", into: &view)
        #expect(view.handle(.enter) == .run(RenameNode(nodeId: "n1", name: "manager")))
        _ = view.handle(.character("d"))
        #expect(view.handle(.character("n")) == nil)
        _ = view.handle(.character("d"))
        #expect(view.handle(.character("y")) == .run(DeclassifyNodes(nodeIds: ["n1"])))
        _ = view.handle(.character("n"))
        _ = type("lab", into: &view)
        #expect(view.handle(.enter) == .run(CreatePool(name: "lab")))
        _ = view.handle(.character("c"))
        _ = view.handle(.escape)
        #expect(view.prompt == nil)
    }

    @Test("the filter narrows the pane as it is typed: substring, regex, ! inverts, esc clears", arguments: [
        ("w2", ["lab"]), ("^edge|^lab", ["edge-1", "lab"]), ("!ready", ["lab"]), ("ARM64", ["edge-1"]),
    ])
    func filter(text: String, names: [String]) {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("/"))
        _ = type(text, into: &view)
        #expect(view.panes[0].table.rows.map { $0.cells[0] } == names)
        _ = view.handle(.enter)
        #expect(view.panes[0].filter == RowFilter(text))
        _ = view.handle(.escape)
        #expect(view.panes[0].table.rows.count == 3)
    }

    @Test("commands switch panes by name or alias, filter with an argument, and explain unknown ones")
    func commands() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character(":"))
        _ = type("pc", into: &view)
        _ = view.handle(.enter)
        #expect(view.focusedPane == .queue)
        _ = view.handle(.character(":"))
        _ = type("nodes lab", into: &view)
        _ = view.handle(.enter)
        #expect(view.focusedPane == .nodes && view.panes[0].table.rows.count == 1)
        _ = view.handle(.character(":"))
        _ = type("theme light", into: &view)
        #expect(view.handle(.enter) == .run(ChangeTheme(name: "light")))
        _ = view.handle(.character(":"))
        _ = type("bogus", into: &view)
        _ = view.handle(.enter)
        #expect(view.flash?.isError == true && view.flash?.text.contains(":nodes") == true)
        _ = view.handle(.character(":"))
        _ = type("q", into: &view)
        #expect(view.handle(.enter) == .quit)
    }

    @Test("pools: create, rename, delete with y/n; :services and :pools switch to their panes")
    func pools() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character(":"))
        _ = type("services", into: &view)
        _ = view.handle(.enter)
        #expect(view.focusedPane == .services && view.panes[view.focus].table.rows.map(\.id) == ["aggregator", "echo", "meter", "plain"])
        _ = view.handle(.character("6"))
        #expect(view.focusedPane == .pools)
        _ = view.handle(.character("r"))
        for _ in 0..<4 { _ = view.handle(.backspace) }
        _ = type("core", into: &view)
        #expect(view.handle(.enter) == .run(RenamePool(poolId: "p1", name: "core")))
        _ = view.handle(.character("d"))
        #expect(view.handle(.character("y")) == .run(DeletePool(poolId: "p1")))
        _ = view.handle(.character("n"))
        _ = type("spare", into: &view)
        #expect(view.handle(.enter) == .run(CreatePool(name: "spare")))
    }

    @Test("processes: n starts the deploy wizard (or :deploy in one line), d terminates the selected or marked ones after a y")
    func processes() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("2"))
        let target = view.actionTarget
        let wizard = AskedAction(type: DeployProcess.self, target: target, isConfirmation: false)
        #expect(view.handle(.character("n")) == .ask(wizard), "the first question comes from the Engine")
        #expect(view.prompt == nil)
        _ = view.handle(.character(":"))
        _ = type("deploy meter:1.1.0 user=alice pool=edge name=m9 INTERVAL=2", into: &view)
        #expect(view.handle(.enter) == .run(DeployProcess(request: ProcessRequest(
            serviceId: "meter", version: "1.1.0", name: "m9", owner: "alice", target: .pool("edge"),
            configuration: [ProcessParameter(key: "INTERVAL", value: "2")]))))
        _ = view.handle(.character(":"))
        _ = type("deploy echo node=tb-w1", into: &view)
        #expect(view.handle(.enter) == .run(DeployProcess(request: ProcessRequest(serviceId: "echo", target: .node("tb-w1")))))
        _ = view.handle(.character(":"))
        _ = type("deploy user=alice", into: &view)
        #expect(view.handle(.enter) == nil && view.flash?.isError == true, "no service named")
        let selected = view.panes[view.focus].table.selectedRow!
        _ = view.handle(.character("d"))
        #expect(view.prompt?.label == "terminate \(selected.cells[0])? (y/n) ")
        #expect(view.handle(.character("y")) == .run(TerminateProcesses(processIds: [selected.id])))
    }

    @Test("a wizard's picker: arrows select, a choice with a problem is refused with its reason, enter answers, esc cancels")
    func picker() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("2"))
        let asked = AskedAction(type: DeployProcess.self, target: view.actionTarget, isConfirmation: false,
                                answers: ["service=meter", "version=1.1.0"])
        view.ask(asked, .choice("where should meter 1.1.0 run?", [
            ActionChoice(value: "anywhere", title: "anywhere", note: "2 nodes can take it"),
            ActionChoice(value: "pool=p1", title: "pool edge", problem: "has no classified nodes"),
            ActionChoice(value: "node=n3", title: "node lab (public)", note: "1 node can take it"),
        ]))
        #expect(view.prompt?.selection == 0)
        _ = view.handle(.down)
        // The second entry is selected, and the one with a problem says it.
        let placementShown = ["anywhere", "pool edge", "has no classified nodes", "node lab (public)"]
        Golden.check(view.render(width: 80, height: 24).text(), named: "deploy-wizard-placement-80x24", shows: placementShown)
        Golden.check(view.render(width: 120, height: 40).text(), named: "deploy-wizard-placement-120x40", shows: placementShown)
        #expect(view.handle(.enter) == nil && view.prompt != nil)
        #expect(view.flash == ConsoleView.Flash("pool edge has no classified nodes", isError: true))
        _ = view.handle(.character("j"))
        var answered = asked
        answered.answers.append("node=n3")
        #expect(view.handle(.enter) == .ask(answered))
        #expect(view.prompt == nil)
        view.ask(asked, .choice("again", [ActionChoice(value: "anywhere", title: "anywhere")]))
        #expect(view.handle(.escape) == nil && view.prompt == nil)
        #expect(DeployProcess(target: asked.target, answers: ["user=alice", "service=meter", "version=1.1.0", "pool=p1", "name=m2 A=1"])
            == DeployProcess(request: ProcessRequest(serviceId: "meter", version: "1.1.0", name: "m2", owner: "alice",
                                                     target: .pool("p1"), configuration: [ProcessParameter(key: "A", value: "1")])))
    }

    @Test("w wires and x disconnects from the processes list, a neighbourhood drawing and the connections pane; :connect runs at once")
    func wiring() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("2"))
        let process = view.actionTarget
        #expect(view.handle(.character("w")) == .ask(AskedAction(type: WireProcess.self, target: process, isConfirmation: false)))
        #expect(view.handle(.character("x")) == .ask(AskedAction(type: DisconnectConnection.self, target: process, isConfirmation: false)))
        // In the selected process's neighbourhood the same keys act on it.
        _ = view.handle(.enter)
        #expect(view.detail == .neighbourhood(processId: process.selected!.id))
        #expect(view.handle(.character("w")) == .ask(AskedAction(type: WireProcess.self, target: process, isConfirmation: false)))
        #expect(view.handle(.character("x")) == .ask(AskedAction(type: DisconnectConnection.self, target: process, isConfirmation: false)))
        _ = view.handle(.escape)
        // On a link of the connections pane, x removes that link once confirmed.
        _ = view.handle(.character("3"))
        let link = view.actionTarget
        #expect(RowRenderer.connectionId(ofRow: link.selected!.id) == "c1")
        #expect(view.handle(.character("x")) == .ask(AskedAction(type: DisconnectConnection.self, target: link, isConfirmation: false)))
        #expect(DisconnectConnection(target: link, answers: ["y"]) == DisconnectConnection(connectionId: "c1"))
        #expect(DisconnectConnection(target: link, answers: ["n"]) == nil)
        #expect(DisconnectConnection(target: process, answers: ["c3", "y"]) == DisconnectConnection(connectionId: "c3"))
        #expect(WireProcess(target: process, answers: ["readings", "agg-1.readings-in", "y"])
                == WireProcess(first: InterfaceReference(process: process.selected!.id, interface: "readings"),
                               second: InterfaceReference(process: "agg-1", interface: "readings-in")))
        _ = view.handle(.character(":"))
        _ = type("connect meter-1.readings agg-1.readings-in", into: &view)
        #expect(view.handle(.enter) == .run(WireProcess(first: InterfaceReference(process: "meter-1", interface: "readings"),
                                                        second: InterfaceReference(process: "agg-1", interface: "readings-in"))))
    }

    @Test("processes: m moves, u upgrades, e configures: each asks the Engine; :move, :upgrade and :config run at once")
    func processChanges() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("2"))
        let target = view.actionTarget
        let id = target.selected!.id
        #expect(view.handle(.character("m")) == .ask(AskedAction(type: MoveProcess.self, target: target, isConfirmation: false)))
        #expect(view.handle(.character("u")) == .ask(AskedAction(type: UpgradeProcess.self, target: target, isConfirmation: false)))
        #expect(view.handle(.character("e")) == .ask(AskedAction(type: ConfigureProcess.self, target: target, isConfirmation: false)))
        let commands: [(String, ConsoleEffect)] = [
            ("move tb-w1", .run(MoveProcess(processIds: [id], target: .node("tb-w1")))),
            ("move pool=edge", .run(MoveProcess(processIds: [id], target: .pool("edge")))),
            ("move anywhere", .run(MoveProcess(processIds: [id], target: .automatic))),
            ("upgrade 1.1.0", .run(UpgradeProcess(processId: id, version: "1.1.0"))),
            ("config INTERVAL=2 -DEBUG", .run(ConfigureProcess(processId: id, set: [ProcessParameter(key: "INTERVAL", value: "2")],
                                                               unset: ["DEBUG"]))),
        ]
        for (line, effect) in commands {
            _ = view.handle(.character(":"))
            _ = type(line, into: &view)
            #expect(view.handle(.enter) == effect, "\(line)")
        }
        // Marked processes move together.
        _ = view.handle(.character(" "))
        _ = view.handle(.character(" "))
        let marked = view.actionTarget.marked
        #expect(marked.count == 2)
        _ = view.handle(.character(":"))
        _ = type("move pool=edge", into: &view)
        #expect(view.handle(.enter) == .run(MoveProcess(processIds: marked, target: .pool("edge"))))
        let difference = ConfigurationDifference(
            from: [ProcessParameter(key: "INTERVAL", value: "1"), ProcessParameter(key: "DEBUG", value: "1")],
            to: [ProcessParameter(key: "INTERVAL", value: "2"), ProcessParameter(key: "COLOR", value: "red")])
        #expect(difference.summary == "INTERVAL 1 → 2, +COLOR=red, -DEBUG")
        #expect(difference.command == "INTERVAL=2 COLOR=red -DEBUG")
    }

    @Test("processes: l opens the followed logs, a the audit trail; the app's lines show, newest at the bottom")
    func loadedPages() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("2"))
        let id = view.panes[view.focus].table.selectedRow!.id
        _ = view.handle(.character("l"))
        #expect(view.detail == .logs(processId: id))
        #expect(view.render(width: 80, height: 24).text().contains("loading…"))
        view.pageLines = ConsoleView.PageLines(detail: .logs(processId: id), lines: (1...40).map { "reading \($0)" })
        var screen = view.render(width: 80, height: 24).text()
        #expect(screen.contains("reading 40") && !screen.contains("reading 1\n"), "followed: the newest lines show")
        view.pageLines = ConsoleView.PageLines(detail: .logs(processId: id), lines: (1...41).map { "reading \($0)" })
        #expect(view.render(width: 80, height: 24).text().contains("reading 41"), "still followed as lines arrive")
        _ = view.handle(.escape)
        _ = view.handle(.character("a"))
        #expect(view.detail == .history(processId: id))
        view.pageLines = ConsoleView.PageLines(detail: .history(processId: id), lines: [], problem: "process x not found")
        screen = view.render(width: 80, height: 24).text()
        #expect(screen.contains("process x not found") && screen.contains("Audit trail of"))
    }

    @Test("marks collect rows for a bulk action; s sorts by the next column, S reverses")
    func marksAndSort() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character(" "))
        _ = view.handle(.character(" "))
        #expect(view.panes[0].marked == ["n1", "n2"])
        #expect(view.render(width: 80, height: 24).text().contains("Nodes [3, 2 marked]"))
        _ = view.handle(.character("d"))
        #expect(view.prompt?.label == "declassify 2 marked nodes? (y/n) ")
        #expect(view.handle(.character("y")) == .run(DeclassifyNodes(nodeIds: ["n1", "n2"])))
        #expect(view.panes[0].marked.isEmpty)

        _ = view.handle(.character("s"))
        #expect(view.panes[0].table.rows.map { $0.cells[0] } == ["edge-1", "lab", "tb-mgr"])
        _ = view.handle(.character("S"))
        #expect(view.panes[0].table.rows.map { $0.cells[0] } == ["tb-mgr", "lab", "edge-1"])
        #expect(view.render(width: 120, height: 24).text().contains("NAME↓"))
    }

    @Test("keys rebind per action from the config; help and the status line follow; bad names are explained")
    func remap() throws {
        var view = ConsoleViewTests.sampleView()
        view.keyMap = try KeyMap(overrides: ["quit": "x", "classify": "q", "down": "n,down"])
        #expect(view.handle(.character("x")) == .quit)
        _ = view.handle(.character("n"))
        #expect(view.panes[0].table.selectedRow?.id == "n2")
        _ = view.handle(.character("q"))
        #expect(view.prompt?.label.hasPrefix("classify edge-1") == true)
        _ = view.handle(.escape)
        let help = view.keyMap.bindings(for: .nodes)
        #expect(help.contains(KeyBinding(key: "x", help: "quit", pane: nil)))
        #expect(help.contains(KeyBinding(key: "q", help: "classify", pane: .nodes)))
        #expect(!help.contains { $0.help == "new pool" })  // n now moves down
        #expect(throws: KeyMapError.unknownAction("explode", known: KeyMap.entries)) {
            try KeyMap(overrides: ["explode": "e"])
        }
        #expect(throws: KeyMapError.unknownKey("ctrl-q")) { try KeyMap(overrides: ["quit": "ctrl-q"]) }
    }

    @Test("a read-only console refuses every action that changes something, by key and by command, and says why")
    func readOnly() {
        var tried = 0
        for action in OperatorActions.all where action.isChange {
            for pane in action.panes {
                var view = ConsoleViewTests.sampleView()
                view.readOnly = true
                view.focus = view.panes.firstIndex { $0.kind == pane }!
                let key = view.keyMap.keys[action.binding!.name]!.first!
                #expect(view.handle(key) == nil, "\(action) on \(pane)")
                #expect(view.prompt == nil && view.flash?.text.contains("read-only") == true, "\(action) on \(pane)")
                tried += 1
            }
            if let command = action.command {
                var view = ConsoleViewTests.sampleView()
                view.readOnly = true
                _ = view.handle(.character(":"))
                _ = type("\(command.name) x", into: &view)
                #expect(view.handle(.enter) == nil, "\(command.usage)")
                #expect(view.flash?.text.contains("read-only") == true, "\(command.usage)")
                tried += 1
            }
        }
        // Classify, rename and declassify a node; create, rename and delete a pool; :pool;
        // deploy, move, upgrade and configure a process (key and command each), terminate one;
        // wire and disconnect (keys on processes and connections), :connect; add a user, set a
        // role, reset a password, delete a user.
        #expect(tried == 26)
        var view = ConsoleViewTests.sampleView()
        view.readOnly = true
        #expect(view.render(width: 80, height: 24).text().contains("‹read-only›"))
        _ = view.handle(.character(":"))
        _ = type("theme light", into: &view)
        #expect(view.handle(.enter) == .run(ChangeTheme(name: "light")), "looking is not changing")
    }

    @Test("the users pane: what each owns, admins marked; p asks a new password and shows only stars")
    func usersPane() throws {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("7"))
        #expect(view.focusedPane == .users)
        let rows = view.render(width: 120, height: 40).text().split(separator: "\n")
        #expect(rows.contains { $0.contains("alice") && $0.contains("5 processes · 1 GiB") }, "alice's quota is shown")
        #expect(rows.contains { $0.contains("root") && $0.contains(" admin ") && $0.contains(" - ") }, "root has none")
        // The questions come from the Engine: another's account asks the new password only,
        // your own the current one first (`ResetPassword.question`).
        let asked = AskedAction(type: ResetPassword.self, target: view.actionTarget, isConfirmation: false)
        #expect(view.handle(.character("p")) == .ask(asked))
        view.ask(asked, try #require(ResetPassword.prompt(for: view.actionTarget)))
        _ = type("s3cret-words", into: &view)
        let screen = view.render(width: 80, height: 24).text()
        Golden.check(screen, named: "users-password-80x24", shows: ["new password for alice: ************", "Users [2]"])
        #expect(!screen.contains("s3cret") && screen.contains("new password for alice: ************"))
        var answered = asked
        answered.answers = ["s3cret-words"]
        #expect(view.handle(.enter) == .ask(answered))
        #expect(ResetPassword(target: view.actionTarget, answers: ["s3cret-words"]) == ResetPassword(userId: "u1", password: "s3cret-words"))
        #expect(ResetPassword(target: view.actionTarget, answers: ["old-words", "new-words"])
                == ResetPassword(userId: "u1", password: "new-words", currentPassword: "old-words"))
        _ = view.handle(.character("A"))
        #expect(view.render(width: 80, height: 24).text().contains("role of alice"))
    }

    @Test("help lists the live key map of the focused pane; the prompt shows in the status line")
    func helpAndPrompt() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("?"))
        Golden.check(view.render(width: 80, height: 24).text(), named: "help-nodes-80x24", shows: ["classify", "quit"])
        _ = view.handle(.escape)
        _ = view.handle(.character("c"))
        _ = type("edge", into: &view)
        let screen = view.render(width: 80, height: 24).text()
        #expect(screen.split(separator: "\n").last == "classify tb-mgr as (pool NAME | @USER): edge▏")
    }
}
