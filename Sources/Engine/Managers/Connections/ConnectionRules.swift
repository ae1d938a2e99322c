import Foundation

/// `PROCESS.INTERFACE` as operators write it: the process by name or id, the interface by its
/// name or the last part of its id, without regard to case (`m1.readings`, `a1.readings-in`).
public struct InterfaceReference: Sendable, Equatable, CustomStringConvertible {
    public var process: String
    public var interface: String

    public init(process: String, interface: String) {
        self.process = process
        self.interface = interface
    }

    /// Splits at the first dot: process names and ids have none.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ConnectionError.badReference(text) }
        self.init(process: parts[0], interface: parts[1])
    }

    public var description: String { "\(process).\(interface)" }
}

/// One side of a connection as asked for: a process, its service version, and one interface of it.
public struct ConnectionSide: Sendable {
    public var process: ServiceProcess
    public var service: Service
    public var interface: Interface

    /// `process`'s interface that `reference` names in `service` (its version).
    init(process: ServiceProcess, service: Service, interface reference: String) throws {
        self.process = process
        self.service = service
        guard let interface = Self.interface(reference, in: service) else {
            throw ConnectionError.noSuchInterface(process: process.name, service: "\(service.id) \(service.version)",
                                                  reference: reference, available: service.interfaces.map(\.name))
        }
        self.interface = interface
    }

    init(process: ServiceProcess, service: Service, interface: Interface) {
        self.process = process
        self.service = service
        self.interface = interface
    }

    static func interface(_ reference: String, in service: Service) -> Interface? {
        let wanted = reference.lowercased()
        return service.interfaces.first { $0.id.lowercased() == wanted }
            ?? service.interfaces.first { $0.name.lowercased() == wanted }
            ?? service.interfaces.first { $0.id.split(separator: "/").last.map { $0.lowercased() == wanted } ?? false }
            ?? service.interfaces.first { $0.name.lowercased().replacingOccurrences(of: " ", with: "-") == wanted }
    }

    /// `m1.readings`: the process's name and the interface's short name, as errors and lists show it.
    public var label: String { "\(process.name).\(Self.shortName(interface))" }

    /// The interface's name as references write it: the last part of its id.
    public static func shortName(_ interface: Interface) -> String {
        interface.id.split(separator: "/").last.map(String.init) ?? interface.name
    }

    var endpoint: Endpoint { Endpoint(processId: process.id, interfaceId: interface.id) }
}

/// The rules a new connection must satisfy, checked before anything is written. Each refusal
/// names the processes, the interfaces and the rule.
enum ConnectionRules {
    /// The version pair to connect `a` and `b` with, or the first rule they break. `existing`:
    /// the connections of either process (removing ones included: they still hold their ends).
    static func check(_ a: ConnectionSide, _ b: ConnectionSide, existing: [Connection], labels: (Endpoint) -> String) throws
        -> (InterfaceVersion, InterfaceVersion)
    {
        guard a.process.id != b.process.id else { throw ConnectionError.sameProcess(a.process.name) }
        guard a.process.userId == b.process.userId else {
            throw ConnectionError.otherOwners(first: a.process.name, second: b.process.name)
        }
        for side in [a, b] where side.process.state == .terminated {
            throw ConnectionError.terminated(side.process.name)
        }
        guard let versions = a.interface.bestCompatibleVersions(with: b.interface) else {
            throw ConnectionError.incompatible(first: a.label, second: b.label)
        }
        if let same = existing.first(where: { $0.joins(a.endpoint, b.endpoint) }) {
            throw ConnectionError.duplicate(first: a.label, second: b.label, connection: same.id)
        }
        for side in [a, b] {
            if let taken = taken(side, existing: existing) {
                throw ConnectionError.full(side: side.label, connectedTo: labels(taken))
            }
        }
        return versions
    }

    /// For an interface that allows one connection: the peer of the connection it has already.
    static func taken(_ side: ConnectionSide, existing: [Connection]) -> Endpoint? {
        guard !side.interface.allowMultiple else { return nil }
        return existing.lazy.compactMap { connection -> Endpoint? in
            guard let mine = connection.endpoint(of: side.process.id), mine.interfaceId == side.interface.id else { return nil }
            return connection.otherEndpoint(of: side.process.id)
        }.first
    }

    /// What keeps an existing connection from working with the processes' current service
    /// versions (after an upgrade or a downgrade); nil when its interface versions still fit.
    static func problem(of connection: Connection, between first: (ServiceProcess, Service), and second: (ServiceProcess, Service))
        -> String?
    {
        func version(of process: ServiceProcess, in service: Service) -> (Interface, InterfaceVersion?)? {
            guard let endpoint = connection.endpoint(of: process.id),
                  let interface = service.interfaces.first(where: { $0.id == endpoint.interfaceId }) else { return nil }
            return (interface, interface.interfaceVersions.first { $0.versionName == endpoint.interfaceVersionName })
        }
        let sides = [first, second]
        for (process, service) in sides where version(of: process, in: service) == nil {
            return "\(service.id) \(service.version) (process \(process.name)) has no interface \(connection.endpoint(of: process.id)?.interfaceId ?? "")"
        }
        let (a, b) = (version(of: first.0, in: first.1)!, version(of: second.0, in: second.1)!)
        if let mine = a.1, let theirs = b.1, mine.isCompatible(with: theirs) { return nil }
        let refit = a.0.bestCompatibleVersions(with: b.0).map { "; \($0.mine.versionName)/\($0.theirs.versionName) would fit: remove it and connect again" }
            ?? "; no versions of the two fit any more"
        return "the versions it was made with (\(connection.endpoint1.interfaceVersionName ?? "?")/\(connection.endpoint2.interfaceVersionName ?? "?")) no longer fit \(first.1.id) \(first.1.version) and \(second.1.id) \(second.1.version)" + refit
    }

    /// Whether one of `others` (connections of the same processes, made or being made) holds
    /// what `connection` needs: an end in `single` (its ends at interfaces that allow one
    /// connection), or its port at one of its processes.
    static func clashes(_ connection: Connection, single: [Endpoint], with others: [Connection]) -> Bool {
        let ends = Set(single.map(\.key))
        return others.contains { other in
            other.id != connection.id
                && (other.endpoints.contains { ends.contains($0.key) }
                    || other.port == connection.port && connection.endpoints.contains { other.endpoint(of: $0.processId) != nil })
        }
    }

    /// The lowest port in `range` that no connection of either process uses.
    static func freePort(for processes: [String], existing: [Connection], in range: ClosedRange<Int> = 5000...9999) throws -> Int {
        let used = Set(existing.filter { connection in processes.contains { connection.endpoint(of: $0) != nil } }.map(\.port))
        guard let port = range.first(where: { !used.contains($0) }) else {
            throw ConnectionError.noFreePort(range: range)
        }
        return port
    }
}

/// Why a connection cannot be made, or removed.
public enum ConnectionError: UserFacingError, Equatable {
    case badReference(String)
    case noSuchInterface(process: String, service: String, reference: String, available: [String])
    case sameProcess(String)
    case otherOwners(first: String, second: String)
    case terminated(String)
    case incompatible(first: String, second: String)
    case duplicate(first: String, second: String, connection: String)
    case full(side: String, connectedTo: String)
    case noFreePort(range: ClosedRange<Int>)
    /// Other connections of the same processes (`others`: those still provisional) were being
    /// made each time this one was tried.
    case contended(first: String, second: String, others: [String])
    /// A side was to be told of a connection whose creation has not confirmed it.
    case stillBeingMade(connection: String)

    public var failureKind: FailureKind {
        switch self {
        case .badReference, .noSuchInterface, .sameProcess, .otherOwners, .terminated, .incompatible: return .invalidRequest
        case .duplicate, .full, .noFreePort, .contended, .stillBeingMade: return .conflict
        }
    }

    public var userMessage: String {
        switch self {
        case .badReference(let text):
            return "\"\(text)\" is not PROCESS.INTERFACE; write the process's name and the interface's, as in m1.readings"
        case .noSuchInterface(let process, let service, let reference, let available):
            return "process \(process) (\(service)) has no interface \"\(reference)\"; it has "
                + (available.isEmpty ? "none" : available.joined(separator: ", "))
        case .sameProcess(let process):
            return "a process cannot be connected to itself (\(process))"
        case .otherOwners(let first, let second):
            return "\(first) and \(second) belong to different users; a connection joins processes of one user"
        case .terminated(let process):
            return "process \(process) is terminated"
        case .incompatible(let first, let second):
            return "\(first) and \(second) are not compatible: no version of one sends what a version of the other receives; `defpi connection candidates \(first)` lists what fits"
        case .duplicate(let first, let second, let connection):
            return "\(first) and \(second) are already connected (connection \(connection))"
        case .full(let side, let connectedTo):
            return "\(side) allows one connection and is already connected to \(connectedTo)"
        case .noFreePort(let range):
            return "no port in \(range.lowerBound)-\(range.upperBound) is free on both processes"
        case .contended(let first, let second, let others):
            return "\(first) and \(second) were not connected: other connections of these processes were being made at the same time each time it was tried"
                + (others.isEmpty ? "" : " (\(others.joined(separator: ", ")); one a stopped creation left is removed after a few seconds)")
                + "; try again"
        case .stillBeingMade(let connection):
            return "connection \(connection) is still being made; try again in a moment"
        }
    }
}
