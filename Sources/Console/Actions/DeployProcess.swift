import Engine

/// `n` on processes: a wizard that deploys a service version as a new process: for whom (the
/// local operator, who is no user, picks one), which service and version, where (every pool and
/// node, with why one cannot take it), then its name and configuration. Or, in one line,
/// `:deploy SERVICE[:VERSION] [user=U] [node=N | pool=P] [name=N] [KEY=VALUE]...`.
public struct DeployProcess: OperatorAction {
    public var request: ProcessRequest

    public static let binding: ActionBinding? = .create
    public static let panes: [Pane.Kind] = [.processes]
    public static let help = "deploy"
    public static let command: ActionCommand? = ActionCommand(name: "deploy", usage: ":deploy SERVICE[:VERSION] [pool=P|node=N] [KEY=VALUE]")
    public static let asksEngine = true

    public init(request: ProcessRequest) { self.request = request }

    public static func prompt(for target: ActionTarget) -> ActionPrompt? { nil }

    /// The wizard's steps, in order; the local operator also picks the owner first.
    private enum Step {
        case owner, service, version, placement, details
    }

    public static func question(after answers: [String], about target: ActionTarget, in context: ActionContext) async throws
        -> ActionPrompt?
    {
        let steps: [Step] = (context.caller.userId == nil ? [.owner] : []) + [.service, .version, .placement, .details]
        guard answers.count < steps.count else { return nil }
        let picked = Picks(answers)
        switch steps[answers.count] {
        case .owner:
            let users = try await context.engine.users.users(by: context.caller)
            guard !users.isEmpty else { throw ConsoleActionError("there are no users yet; add one with defpi user add NAME") }
            return .choice("deploy for which user?", users.map { ActionChoice(value: "user=\($0.username)", title: $0.username,
                                                                            note: $0.admin ? "admin" : "") })
        case .service:
            let catalog = try await context.engine.services.catalog()
            guard !catalog.entries.isEmpty else { throw ConsoleActionError("the registry has no services; publish one with defpi service publish") }
            return .choice("deploy which service?", catalog.entries.map { entry in
                let usable = entry.versions.filter { $0.problem == nil }
                return ActionChoice(value: "service=\(entry.id)", title: entry.id,
                                    note: usable.first.map { "newest \($0.version), \(entry.versions.count) versions" } ?? "",
                                    problem: usable.isEmpty ? "has no usable version" : nil)
            })
        case .version:
            let versions = try await context.engine.services.versions(of: picked.service)
            let newest = versions.first { $0.problem == nil }?.version
            return .choice("which version of \(picked.service)?", versions.map { service in
                ActionChoice(value: "version=\(service.version)", title: service.version,
                             note: service.version == newest ? "newest" : "", problem: service.problem)
            })
        case .placement:
            let options = try await context.engine.processes.placementOptions(
                serviceId: picked.service, version: picked.version, owner: picked.owner, by: context.caller)
            return .choice("where should \(picked.service) \(picked.version ?? "") run?", options.map(PlacementChoice.choice))
        case .details:
            return .line("name and configuration (name=N KEY=VALUE ...; enter for defaults): ")
        }
    }

    /// The picks become the words of `:deploy`, the typed line follows them.
    public init?(target: ActionTarget, answers: [String]) {
        guard let line = answers.last else { return nil }
        let picks = Picks(answers.dropLast())
        let words = ["\(picks.service)\(picks.version.map { ":\($0)" } ?? "")"]
            + [picks.owner.map { "user=\($0)" }, picks.placement].compactMap { $0 } + [line]
        self.init(target: target, answer: words.joined(separator: " "))
    }

    /// The first word names the service (and version); `user=`, `node=`, `pool=` and `name=`
    /// say whose, where and what it is called; any other `KEY=VALUE` is its configuration.
    public init?(target: ActionTarget, answer: String) {
        let words = answer.split(separator: " ").map(String.init)
        guard let service = words.first, !service.contains("=") else { return nil }
        let parts = service.split(separator: ":", maxSplits: 1).map(String.init)
        var request = ProcessRequest(serviceId: parts[0], version: parts.count > 1 ? parts[1] : nil)
        for word in words.dropFirst() {
            guard let (key, value) = keyValue(word) else { return nil }
            switch key {
            case "user": request.owner = value
            case "node", "pool": request.target = PlacementChoice.request(word) ?? .automatic
            case "name": request.name = value
            default: request.configuration.append(ProcessParameter(key: key, value: value))
            }
        }
        self.init(request: request)
    }

    public func perform(in context: ActionContext) async throws -> String {
        let (process, change) = try await context.engine.processes.create(request, by: context.caller)
        return "queued: \(change.description) (\(process.name))"
    }

    /// The wizard's picks so far, from their `user=`, `service=`, `version=`, `node=`/`pool=` answers.
    private struct Picks {
        var owner: String?
        var service = ""
        var version: String?
        /// `pool=ID` or `node=ID`; nil for anywhere.
        var placement: String?

        init<Answers: Sequence<String>>(_ answers: Answers) {
            for answer in answers {
                guard let (key, value) = keyValue(answer) else { continue }
                switch key {
                case "user": owner = value
                case "service": service = value
                case "version": version = value
                case "node", "pool": placement = answer
                default: continue
                }
            }
        }
    }
}

/// A placement as a picker entry and back: `node=ID`, `pool=ID`, or `anywhere`.
enum PlacementChoice {
    static func choice(_ option: PlacementOption) -> ActionChoice {
        let value: String
        switch option.request {
        case .automatic: value = "anywhere"
        case .pool(let id): value = "pool=\(id)"
        case .node(let id): value = "node=\(id)"
        }
        let nodes = option.eligibleNodes == 1 ? "1 node can take it" : "\(option.eligibleNodes) nodes can take it"
        return ActionChoice(value: value, title: option.label, note: option.problem == nil ? nodes : "",
                            problem: option.isCurrent ? "is where it is placed now" : option.problem)
    }

    /// The placement a word asks for: `anywhere`, `pool=P`, `node=N`, or a bare node name.
    static func request(_ word: String) -> PlacementRequest? {
        if word == "anywhere" { return .automatic }
        guard let (key, value) = keyValue(word) else { return word.isEmpty ? nil : .node(word) }
        switch key {
        case "pool": return .pool(value)
        case "node": return .node(value)
        default: return nil
        }
    }
}
