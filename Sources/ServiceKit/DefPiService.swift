/// What a dEF-Pi service implements. ServiceKit makes these calls one after another, each
/// within the host's call timeout (5 s); a call that throws or runs out of time becomes an
/// `ErrorMessage` to the orchestrator, with the error's text. A call that runs out of time is
/// cancelled but not waited for: a call that ignores cancellation keeps running beside the next.
public protocol DefPiService: AnyObject, Sendable {
    associatedtype Configuration: ServiceConfiguration

    /// The first configuration after the process started (not after a resume).
    func start(with configuration: Configuration, process: ProcessIdentity) async throws
    /// A new configuration while running.
    func modify(_ configuration: Configuration) async throws
    /// The process is about to stop so it can be moved or upgraded: return the state to carry
    /// over. The bytes come back to `resume(from:)` in the new process.
    func suspend() async throws -> [UInt8]
    /// Carry on from what `suspend()` returned (in a new process, on any node).
    func resume(from state: [UInt8], process: ProcessIdentity) async throws
    /// The process is ending for good.
    func terminate() async
}

/// Who the process is, from the environment the orchestrator gave its container.
public struct ProcessIdentity: Sendable, Equatable {
    /// `PROCESS_ID`: also the host name other processes and the orchestrator reach it by.
    public var processId: String
    /// `USER_ID`, `USER_NAME`, `USER_EMAIL`: the owner.
    public var userId: String?
    public var userName: String?
    public var userEmail: String?
    /// `ORCHESTRATOR_HOST`, `ORCHESTRATOR_PORT`, `ORCHESTRATOR_TOKEN`: where the process reports it started.
    public var orchestratorHost: String?
    public var orchestratorPort: Int
    public var orchestratorToken: String?

    public init(processId: String, userId: String? = nil, userName: String? = nil, userEmail: String? = nil,
                orchestratorHost: String? = nil, orchestratorPort: Int = 8080, orchestratorToken: String? = nil) {
        self.processId = processId
        self.userId = userId
        self.userName = userName
        self.userEmail = userEmail
        self.orchestratorHost = orchestratorHost
        self.orchestratorPort = orchestratorPort
        self.orchestratorToken = orchestratorToken
    }

    /// The identity in `environment` (the container's, by default); nil without `PROCESS_ID`.
    public static func from(_ environment: [String: String]) -> ProcessIdentity? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let processId = value("PROCESS_ID") else { return nil }
        return ProcessIdentity(
            processId: processId, userId: value("USER_ID"), userName: value("USER_NAME"), userEmail: value("USER_EMAIL"),
            orchestratorHost: value("ORCHESTRATOR_HOST"), orchestratorPort: value("ORCHESTRATOR_PORT").flatMap(Int.init) ?? 8080,
            orchestratorToken: value("ORCHESTRATOR_TOKEN"))
    }
}
