import Engine

/// `w` on processes or connections: wire an interface of the selected process to another
/// process's: pick the interface, then a candidate from every interface of the owner's
/// processes (those that do not fit show why), then confirm. Or `:connect m1.readings a1.readings-in`.
public struct WireProcess: OperatorAction {
    public var first: InterfaceReference
    public var second: InterfaceReference

    public static let binding: ActionBinding? = .wire
    public static let panes: [Pane.Kind] = [.processes, .graph]
    public static let help = "wire"
    public static let command: ActionCommand? = ActionCommand(name: "connect", usage: ":connect PROCESS.INTERFACE PROCESS.INTERFACE")
    public static let asksEngine = true

    public init(first: InterfaceReference, second: InterfaceReference) {
        self.first = first
        self.second = second
    }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { nil }

    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        guard let selected = target.selected else { return nil }
        let process = try await context.engine.processes.process(RowRenderer.processId(ofRow: selected.id), by: context.caller)
        switch answers.count {
        case 0:
            return interfacePicker(process, try await context.engine.services.service(process.serviceId, version: process.serviceVersion))
        case 1:
            let side = InterfaceReference(process: process.name, interface: answers[0])
            return candidatePicker(side, try await context.engine.connections.candidates(for: side, by: context.caller))
        case 2:
            return confirmation(process, interface: answers[0], candidate: answers[1])
        default:
            return nil
        }
    }

    /// The first question: which interface of the process's service version.
    static func interfacePicker(_ process: ServiceProcess, _ service: Service) -> ActionPrompt {
        .choice("wire which interface of \(process.name) (\(service.id) \(service.version))", service.interfaces.map { interface in
            let name = ConnectionSide.shortName(interface)
            return ActionChoice(value: name, title: name, note: interface.allowMultiple ? "many connections" : "one connection")
        })
    }

    /// The second: which candidate; those that do not fit show why and cannot be picked.
    static func candidatePicker(_ side: InterfaceReference, _ candidates: [ConnectionCandidate]) -> ActionPrompt {
        .choice("connect \(side) to", candidates.map { candidate in
            ActionChoice(value: candidate.label, title: candidate.label, note: candidate.fit.rawValue,
                         problem: candidate.fit == .compatible ? nil : candidate.reason)
        })
    }

    /// The last: y to connect.
    static func confirmation(_ process: ServiceProcess, interface: String, candidate: String) -> ActionPrompt {
        .confirmation("connect \(process.name).\(interface) to \(candidate)?")
    }

    /// From `:connect A B`.
    public init?(target: ActionTarget, answer: String) {
        let words = answer.split(separator: " ").map(String.init)
        guard words.count == 2, let first = try? InterfaceReference(parsing: words[0]),
              let second = try? InterfaceReference(parsing: words[1]) else { return nil }
        self.init(first: first, second: second)
    }

    /// From the wizard: the interface, the candidate, and y.
    public init?(target: ActionTarget, answers: [String]) {
        guard answers.count == 3, ActionPrompt.isYes(answers[2]), let selected = target.selected,
              let second = try? InterfaceReference(parsing: answers[1]) else { return nil }
        self.init(first: InterfaceReference(process: RowRenderer.processId(ofRow: selected.id), interface: answers[0]), second: second)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let (connection, _) = try await context.engine.connections.create(first, second, by: context.caller)
        let labels = try await context.engine.connections.endpointLabels(by: context.caller)
        return "queued: connection \(labels.label(connection.endpoint1)) ↔ \(labels.label(connection.endpoint2))"
    }
}

/// `x` on processes (the list or a neighbourhood drawing) or connections: remove a connection,
/// after a y; both sides are told to end it. On a row of the connections pane it is that row's
/// connection; on a process, one picked from its connections.
public struct DisconnectConnection: OperatorAction {
    public var connectionId: String

    public static let binding: ActionBinding? = .disconnect
    public static let panes: [Pane.Kind] = [.processes, .graph]
    public static let help = "disconnect"
    public static let asksEngine = true

    public init(connectionId: String) { self.connectionId = connectionId }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { nil }

    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        guard let selected = target.selected else { return nil }
        let labels = try await context.engine.connections.endpointLabels(by: context.caller)
        if let row = RowRenderer.connectionId(ofRow: selected.id) {
            guard answers.isEmpty else { return nil }
            return confirmation(try await context.engine.connections.connection(row, by: context.caller), labels)
        }
        let connections = try await context.engine.connections.connections(by: context.caller, process: selected.id)
        switch answers.count {
        case 0: return picker(selected.name, connections, labels)
        case 1: return connections.first { $0.id == answers[0] }.map { confirmation($0, labels) }
        default: return nil
        }
    }

    /// Which of a process's connections.
    static func picker(_ process: String, _ connections: [Connection], _ labels: EndpointLabels) -> ActionPrompt {
        .choice("remove which connection of \(process)", connections.map { connection in
            ActionChoice(value: connection.id, title: "\(labels.label(connection.endpoint1)) ↔ \(labels.label(connection.endpoint2))",
                         note: connection.state.rawValue.lowercased(),
                         problem: connection.removing ? "is being removed already" : nil)
        })
    }

    static func confirmation(_ connection: Connection, _ labels: EndpointLabels) -> ActionPrompt {
        .confirmation("remove connection \(labels.label(connection.endpoint1)) ↔ \(labels.label(connection.endpoint2))?")
    }

    public init?(target: ActionTarget, answer: String) { nil }

    /// The connection of the row and y, or the one picked and y.
    public init?(target: ActionTarget, answers: [String]) {
        guard let selected = target.selected, let answer = answers.last, ActionPrompt.isYes(answer) else { return nil }
        if let row = RowRenderer.connectionId(ofRow: selected.id), answers.count == 1 {
            self.init(connectionId: row)
        } else if answers.count == 2 {
            self.init(connectionId: answers[0])
        } else {
            return nil
        }
    }

    public func perform(in context: ActionContext) async throws -> String {
        let changes = try await context.engine.connections.remove(connectionId, by: context.caller)
        return "queued: connection \(connectionId) removed (\(changes.count) sides told)"
    }
}
