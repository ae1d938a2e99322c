import Engine
import Foundation

/// A process as `POST /process` and `PUT /process/{id}` take it: the original's fields, with
/// defpi's `serviceVersion` and `publicNodeId`. The fields defpi sets itself (`state`, `token`,
/// `dockerId` ...) may come back unchanged from a client that read the process first.
struct ProcessInput: APIInput {
    static let fields: Set<String> = [
        "serviceId", "serviceVersion", "name", "userId", "nodePoolId", "privateNodeId", "publicNodeId", "configuration",
        "maxMemoryBytes", "maxNanoCPUs", "mountPoints", "exposePorts", "debuggingPort", "suspendOnDebug",
        // Set by defpi; read back and ignored.
        "id", "revision", "token", "state", "problem", "dockerId", "runningNodeId", "pendingConfiguration", "relocation",
        "created", "connections",
    ]

    var id: String?
    var serviceId: String?
    var serviceVersion: String?
    var name: String?
    var userId: String?
    var nodePoolId: String?
    var privateNodeId: String?
    var publicNodeId: String?
    var configuration: [ProcessParameter]?
    var maxMemoryBytes: Int64?
    var maxNanoCPUs: Int64?
    var mountPoints: [MountPoint]?
    var exposePorts: [ExposePort]?
    var debuggingPort: Int?

    /// Where the body asks the process to run; nil when it names no place.
    func target() throws -> PlacementRequest? {
        let given = [nodePoolId.map(PlacementRequest.pool), privateNodeId.map(PlacementRequest.node),
                     publicNodeId.map(PlacementRequest.node)].compactMap { $0 }
        guard given.count <= 1 else {
            throw APIError(.invalidRequest, message: "give one of nodePoolId, privateNodeId and publicNodeId, not several")
        }
        return given.first
    }

    /// The request of a new process.
    func request() throws -> ProcessRequest {
        guard let serviceId, !serviceId.isEmpty else { throw APIError(.invalidRequest, message: "serviceId is missing") }
        try refuseDebugging()
        return ProcessRequest(serviceId: serviceId, version: serviceVersion, name: name, owner: userId,
                              target: try target() ?? .automatic, configuration: configuration ?? [],
                              memoryBytes: maxMemoryBytes ?? 0, nanoCPUs: maxNanoCPUs ?? 0, ports: exposePorts ?? [],
                              mounts: mountPoints ?? [])
    }

    /// What an update asks of `process`: a new version, a new place, a new configuration. What
    /// cannot change after creation is refused, not silently ignored.
    func update(of process: ServiceProcess) throws -> (version: String?, target: PlacementRequest?, configuration: [ProcessParameter]?) {
        try refuseDebugging()
        func unchanged<Value: Equatable>(_ value: Value?, _ current: Value, _ what: String) throws {
            if let value, value != current {
                throw APIError(.invalidRequest, message: "\(what) of process \(process.name) cannot change; terminate it and create another")
            }
        }
        if let id, id != process.id { throw APIError(.invalidRequest, message: "the body's id \(id) is not the path's \(process.id)") }
        try unchanged(userId, process.userId, "the owner")
        try unchanged(name, process.name, "the name")
        try unchanged(serviceId, process.serviceId, "the service")
        try unchanged(maxMemoryBytes, process.maxMemoryBytes, "the memory limit")
        try unchanged(maxNanoCPUs, process.maxNanoCPUs, "the CPU limit")
        try unchanged(mountPoints, process.mountPoints, "the mounts")
        try unchanged(exposePorts, process.exposePorts, "the exposed ports")
        let version = serviceVersion.flatMap { $0 == process.serviceVersion ? nil : $0 }
        let target = try target().flatMap { Self.names($0, process.placement) ? nil : $0 }
        let configuration = configuration.flatMap { Set($0) == Set(process.configuration) ? nil : $0 }
        return (version, target, configuration)
    }

    private func refuseDebugging() throws {
        if let debuggingPort, debuggingPort != 0 {
            throw APIError(.invalidRequest, message: "defpi does not open debugging ports (debuggingPort must be 0)")
        }
    }

    /// Whether a requested place is where the process is asked to run already (by id).
    private static func names(_ request: PlacementRequest, _ current: PlacementTarget) -> Bool {
        switch (request, current) {
        case (.pool(let id), .pool(let currentId)): return id == currentId
        case (.node(let id), .privateNode(let currentId)), (.node(let id), .publicNode(let currentId)): return id == currentId
        default: return false
        }
    }
}
