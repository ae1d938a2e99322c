import DefpiTesting
import Engine
import Foundation
import Testing

@testable import Console

/// Every step of the process wizards and every process dialog, rendered at 80×24 and 120×40
/// against golden files: the deploy wizard (user, service, version, placement, name and
/// configuration), move, upgrade, the configuration editor and its difference, terminate.
@Suite("Console dialogs", .timeLimit(.minutes(2)))
struct ConsoleDialogTests {
    /// A dialog: the action asking, the answers given before, and the question it shows.
    struct Dialog: Sendable, CustomStringConvertible {
        let name: String
        let action: any OperatorAction.Type
        let answers: [String]
        let prompt: ActionPrompt

        var description: String { name }
    }

    static let dialogs: [Dialog] = [
        Dialog(name: "deploy-wizard-user", action: DeployProcess.self, answers: [], prompt: .choice("deploy for which user?", [
            ActionChoice(value: "user=admin", title: "admin", note: "admin"),
            ActionChoice(value: "user=alice", title: "alice"),
            ActionChoice(value: "user=bob", title: "bob"),
        ])),
        Dialog(name: "deploy-wizard-service", action: DeployProcess.self, answers: ["user=alice"], prompt: .choice("deploy which service?", [
            ActionChoice(value: "service=aggregator", title: "aggregator", note: "newest 2.0.0, 3 versions"),
            ActionChoice(value: "service=echo", title: "echo", note: "newest 1.0.0, 1 versions"),
            ActionChoice(value: "service=meter", title: "meter", note: "newest 1.10.0, 4 versions"),
            ActionChoice(value: "service=legacy", title: "legacy", problem: "has no usable version"),
        ])),
        Dialog(name: "deploy-wizard-version", action: DeployProcess.self, answers: ["user=alice", "service=meter"],
               prompt: .choice("which version of meter?", [
                   ActionChoice(value: "version=1.10.0", title: "1.10.0", note: "newest"),
                   ActionChoice(value: "version=1.2.0", title: "1.2.0"),
                   ActionChoice(value: "version=1.1.0", title: "1.1.0"),
                   ActionChoice(value: "version=1.0.0-arm", title: "1.0.0-arm", problem: "no image for amd64"),
               ])),
        Dialog(name: "deploy-wizard-details", action: DeployProcess.self,
               answers: ["user=alice", "service=meter", "version=1.10.0", "anywhere"],
               prompt: .line("name and configuration (name=N KEY=VALUE ...; enter for defaults): ")),
        Dialog(name: "move-picker", action: MoveProcess.self, answers: [], prompt: .choice("move meter-1 to", [
            ActionChoice(value: "anywhere", title: "anywhere", note: "2 nodes can take it"),
            ActionChoice(value: "pool=p1", title: "pool edge", note: "1 node can take it"),
            ActionChoice(value: "node=n1", title: "node edge-1 (public)", problem: "is where it is placed now"),
            ActionChoice(value: "node=n2", title: "node edge-2 (public)", note: "1 node can take it"),
            ActionChoice(value: "node=n3", title: "node lab (private, bob)", problem: "is bob's private node"),
        ])),
        Dialog(name: "upgrade-picker", action: UpgradeProcess.self, answers: [],
               prompt: .choice("run meter-1 (meter 1.10.0) at version", [
                   ActionChoice(value: "1.10.0", title: "1.10.0", note: "newest", problem: "is the version it runs"),
                   ActionChoice(value: "1.2.0", title: "1.2.0"),
                   ActionChoice(value: "1.1.0", title: "1.1.0"),
               ])),
        Dialog(name: "config-edit", action: ConfigureProcess.self, answers: [],
               prompt: .line("configuration of meter-1: ", text: "INTERVAL=1 WATTS=75")),
        Dialog(name: "config-difference", action: ConfigureProcess.self, answers: ["INTERVAL=2 DEBUG=1"],
               prompt: .choice("configuration of meter-1: " + ConfigurationDifference(
                   from: [ProcessParameter(key: "INTERVAL", value: "1"), ProcessParameter(key: "WATTS", value: "75")],
                   to: [ProcessParameter(key: "INTERVAL", value: "2"), ProcessParameter(key: "DEBUG", value: "1")]).summary, [
                   ActionChoice(value: "INTERVAL=2 DEBUG=1 -WATTS", title: "apply"),
                   ActionChoice(value: "", title: "cancel"),
               ])),
        Dialog(name: "wire-interface", action: WireProcess.self, answers: [],
               prompt: WireProcess.interfacePicker(ConsoleViewTests.sampleProcesses[0], Service(
                   id: "meter", name: "Meter", version: "1.10.0", registry: "r", interfaces: [
                       Interface(id: "meter/readings", name: "Readings", serviceId: "meter", interfaceVersions: [], autoConnect: true),
                       Interface(id: "meter/status", name: "Status", serviceId: "meter", interfaceVersions: [], allowMultiple: true),
                   ]))),
        Dialog(name: "wire-candidates", action: WireProcess.self, answers: ["readings"],
               prompt: WireProcess.candidatePicker(InterfaceReference(process: "meter-1", interface: "readings"), [
                   ConnectionCandidate(processId: "agg-1", process: "agg-1", interfaceId: "aggregator/readings-in",
                                       interface: "readings-in", fit: .connected,
                                       reason: "meter-1.readings and agg-1.readings-in are already connected (connection c1)"),
                   ConnectionCandidate(processId: "agg-1", process: "agg-1", interfaceId: "aggregator/status", interface: "status",
                                       fit: .incompatible, reason: "meter-1.readings and agg-1.status are not compatible: no version of one sends what a version of the other receives"),
                   ConnectionCandidate(processId: "agg-2", process: "agg-2", interfaceId: "aggregator/readings-in",
                                       interface: "readings-in", fit: .full,
                                       reason: "meter-1.readings allows one connection and is already connected to agg-1.readings-in"),
                   ConnectionCandidate(processId: "agg-3", process: "agg-3", interfaceId: "aggregator/readings-in",
                                       interface: "readings-in", fit: .compatible),
               ])),
        Dialog(name: "disconnect-picker", action: DisconnectConnection.self, answers: [],
               prompt: DisconnectConnection.picker("agg-1", ConsoleViewTests.sampleConnections,
                                                   EndpointLabels(processes: ConsoleViewTests.sampleProcesses))),
        Dialog(name: "wire-confirmation", action: WireProcess.self, answers: ["readings", "agg-3.readings-in"],
               prompt: WireProcess.confirmation(ConsoleViewTests.sampleProcesses[0], interface: "readings",
                                                candidate: "agg-3.readings-in")),
    ]

    @Test("each wizard step and dialog at 80×24 and 120×40 matches its golden file", arguments: dialogs)
    func dialog(_ dialog: Dialog) {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("2"))
        view.ask(AskedAction(type: dialog.action, target: view.actionTarget, isConfirmation: false, answers: dialog.answers),
                 dialog.prompt)
        for (width, height) in [(80, 24), (120, 40)] {
            // The question (its start: a long one wraps or is cut), and the first entry of a picker.
            let question = String(dialog.prompt.label.prefix(24)).trimmingCharacters(in: .whitespaces)
            Golden.check(view.render(width: width, height: height).text(), named: "\(dialog.name)-\(width)x\(height)",
                         shows: [question] + dialog.prompt.choices.prefix(1).map(\.title))
        }
    }

    @Test("terminate asks y/n about the selected process, or the marked ones, at 80×24 and 120×40")
    func terminate() {
        var view = ConsoleViewTests.sampleView()
        _ = view.handle(.character("2"))
        _ = view.handle(.character("d"))
        for (width, height) in [(80, 24), (120, 40)] {
            Golden.check(view.render(width: width, height: height).text(), named: "terminate-confirm-\(width)x\(height)",
                         shows: ["terminate", "(y/n)"])
        }
        _ = view.handle(.escape)
        _ = view.handle(.character(" "))
        _ = view.handle(.character(" "))
        _ = view.handle(.character("d"))
        #expect(view.prompt?.label == "terminate 2 marked processes? (y/n) ")
    }
}
