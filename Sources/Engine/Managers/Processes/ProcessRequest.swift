import Foundation

/// What an operator asks for when deploying a process: a service version, an owner, where it
/// may run, and its own configuration and limits.
public struct ProcessRequest: Sendable, Equatable {
    public var serviceId: String
    /// nil: the newest version that can be deployed.
    public var version: String?
    /// nil: `<service>-N`, the first free one among the owner's processes.
    public var name: String?
    /// A username or user id; nil: the caller.
    public var owner: String?
    public var target: PlacementRequest
    public var configuration: [ProcessParameter]
    /// 0: unlimited.
    public var memoryBytes: Int64
    /// 0: unlimited.
    public var nanoCPUs: Int64
    public var ports: [ExposePort]
    public var mounts: [MountPoint]

    public init(serviceId: String, version: String? = nil, name: String? = nil, owner: String? = nil,
                target: PlacementRequest = .automatic, configuration: [ProcessParameter] = [], memoryBytes: Int64 = 0,
                nanoCPUs: Int64 = 0, ports: [ExposePort] = [], mounts: [MountPoint] = []) {
        self.serviceId = serviceId
        self.version = version
        self.name = name
        self.owner = owner
        self.target = target
        self.configuration = configuration
        self.memoryBytes = memoryBytes
        self.nanoCPUs = nanoCPUs
        self.ports = ports
        self.mounts = mounts
    }
}

/// Where an operator asks a process to run, by reference (a name or an id).
public enum PlacementRequest: Sendable, Equatable {
    /// One node: a private node of the owner, or a public node.
    case node(String)
    /// Any eligible node of a pool.
    case pool(String)
    /// Any node the owner may use.
    case automatic
}

/// The rules a process's name, configuration and limits follow, checked before anything is
/// written.
enum ProcessRules {
    static let maximumNameLength = 48
    static let maximumParameters = 256
    static let maximumKeyLength = 128
    static let maximumValueBytes = 4096

    /// Lower-case letters, digits and dashes, starting with a letter or digit: usable in a
    /// DNS name and a shell without quoting.
    static func checkName(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 45 }
        guard !name.isEmpty, name.count <= maximumNameLength, allowed, name.first != "-" else {
            throw ProcessError.invalidName(name)
        }
    }

    /// Keys are environment-variable-like names (letters, digits, `_`, `.`, `-`; not starting
    /// with a digit), each once; values are text of bounded size.
    static func checkConfiguration(_ parameters: [ProcessParameter]) throws {
        guard parameters.count <= maximumParameters else {
            throw ProcessError.invalidConfiguration("\(parameters.count) keys; at most \(maximumParameters) are allowed")
        }
        var seen = Set<String>()
        for parameter in parameters {
            let key = parameter.key
            let valid = key.utf8.allSatisfy { isLetter($0) || (48...57).contains($0) || $0 == 95 || $0 == 46 || $0 == 45 }
            guard !key.isEmpty, key.count <= maximumKeyLength, valid, let first = key.utf8.first, isLetter(first) || first == 95 else {
                throw ProcessError.invalidConfiguration(
                    "\"\(key.prefix(40))\" is not a key: use letters, digits, _, . and -, starting with a letter or _, at most \(maximumKeyLength) characters")
            }
            guard parameter.value.utf8.count <= maximumValueBytes else {
                throw ProcessError.invalidConfiguration("the value of \(key) has \(parameter.value.utf8.count) bytes; at most \(maximumValueBytes) are allowed")
            }
            guard seen.insert(key).inserted else { throw ProcessError.invalidConfiguration("\(key) is given twice") }
        }
    }

    /// Limits are zero (none) or positive; ports are TCP port numbers, each published once.
    /// (Mounts and who may publish which port: `TenancyRules`.)
    static func checkResources(memoryBytes: Int64, nanoCPUs: Int64, ports: [ExposePort]) throws {
        guard memoryBytes == 0 || memoryBytes >= 4 * 1024 * 1024 else {
            throw ProcessError.invalidLimit("a memory limit below 4 MiB cannot run a process; give at least 4m, or none")
        }
        guard nanoCPUs >= 0, memoryBytes >= 0 else { throw ProcessError.invalidLimit("limits cannot be negative") }
        for port in ports where !(1...65535).contains(port.internal) || !(1...65535).contains(port.external) {
            throw ProcessError.invalidLimit("port \(port.external):\(port.internal) is not a pair of port numbers (1-65535)")
        }
        guard Set(ports.map(\.external)).count == ports.count else {
            throw ProcessError.invalidLimit("a host port is published twice")
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) }
}

/// Why a process cannot be deployed or changed as asked; each message says what to do.
public enum ProcessError: UserFacingError, Equatable {
    case invalidName(String)
    case nameTaken(name: String, owner: String)
    case invalidConfiguration(String)
    case invalidLimit(String)
    case unusableVersion(serviceId: String, version: String, problem: String)
    case noEligibleNode(target: String, reasons: [String])
    case notYours(action: String)
    case busy(process: String, change: String)
    case notDeployed(String)
    case notRunning(process: String, state: String)
    case nothingToChange

    public var failureKind: FailureKind {
        switch self {
        case .invalidName, .invalidConfiguration, .invalidLimit, .unusableVersion, .nothingToChange: return .invalidRequest
        case .notYours: return .forbidden
        case .nameTaken, .noEligibleNode, .busy, .notDeployed, .notRunning: return .conflict
        }
    }

    public var userMessage: String {
        switch self {
        case .invalidName(let name):
            return "\"\(name)\" is not a process name: use lower-case letters, digits and dashes (at most \(ProcessRules.maximumNameLength))"
        case .nameTaken(let name, let owner):
            return "\(owner) already has a process named \(name); choose another --name"
        case .invalidConfiguration(let why):
            return "the configuration cannot be used: \(why)"
        case .invalidLimit(let why):
            return why
        case .unusableVersion(let serviceId, let version, let problem):
            return "\(serviceId) \(version) cannot be deployed: \(problem); choose another version"
        case .noEligibleNode(let target, let reasons):
            let why = reasons.isEmpty ? "there are no nodes" : reasons.joined(separator: "; ")
            return "no node can take the process \(target): \(why)"
        case .notYours(let action):
            return "only an admin may \(action)"
        case .notRunning(let process, let state):
            return "process \(process) is \(state), not RUNNING; the change waits for it to run"
        case .nothingToChange:
            return "give -e KEY=VALUE or --unset KEY to change the configuration"
        case .notDeployed(let process):
            return "process \(process) has no swarm service yet; `defpi change ls --resource` shows what it waits for"
        case .busy(let process, let change):
            return "process \(process) is busy with \(change); wait for it, or cancel it with `defpi change cancel`"
        }
    }
}
