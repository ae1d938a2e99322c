import Foundation
import Synchronization

/// The Docker Engine API over libcurl: swarm nodes, services, tasks, networks, `/info` and the
/// event stream. The API version is negotiated from `/_ping` on first use.
public final class DockerClient: Sendable {
    public let endpoint: DockerEndpoint
    let http: CurlHTTPClient
    private let negotiatedVersion = Mutex<String?>(nil)

    /// The oldest API defpi speaks (Docker Engine 20.10).
    public static let minimumAPIVersion = "1.41"
    /// The newest API whose shapes defpi has been checked against; newer engines are spoken to in it.
    public static let maximumAPIVersion = "1.47"

    public init(endpoint: DockerEndpoint, requestTimeout: Duration = .seconds(30)) {
        self.endpoint = endpoint
        self.http = CurlHTTPClient(
            options: HTTPClientOptions(unixSocketPath: endpoint.unixSocketPath, tls: endpoint.tls,
                                       requestTimeout: requestTimeout))
    }

    // MARK: System

    /// Pings the daemon and fixes the API version: the daemon's, capped to `maximumAPIVersion`.
    @discardableResult
    public func negotiateVersion() async throws -> String {
        let response = try await exchange(HTTPRequest(url: endpoint.baseURL + "/_ping"), operation: "ping Docker")
        guard let server = response.header("Api-Version") else {
            throw DockerError.malformedResponse(operation: "ping Docker", detail: "no Api-Version header")
        }
        guard Self.compare(server, Self.minimumAPIVersion) >= 0 else {
            throw DockerError.unsupportedVersion(server: server, minimum: Self.minimumAPIVersion)
        }
        let chosen = Self.compare(server, Self.maximumAPIVersion) > 0 ? Self.maximumAPIVersion : server
        negotiatedVersion.withLock { $0 = chosen }
        return chosen
    }

    /// Whether the API version spoken with the daemon is `version` or later.
    public func speaks(atLeast version: String) async throws -> Bool {
        var spoken = negotiatedVersion.withLock { $0 }
        if spoken == nil { spoken = try await negotiateVersion() }
        return Self.compare(spoken ?? "", version) >= 0
    }

    /// The daemon's clock (the `Date` header of `/_ping`, to the second).
    public func serverTime() async throws -> Date {
        let response = try await exchange(HTTPRequest(url: endpoint.baseURL + "/_ping"), operation: "ping Docker")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let header = response.header("Date"), let date = formatter.date(from: header) else {
            throw DockerError.malformedResponse(operation: "ping Docker", detail: "no readable Date header")
        }
        return date
    }

    /// `GET /info`.
    public func info() async throws -> DockerInfo {
        try await get("/info", operation: "read Docker's info")
    }

    /// Checks that the daemon is an active swarm manager; returns its info.
    public func requireSwarmManager() async throws -> DockerInfo {
        let info = try await info()
        guard info.swarm.localNodeState == "active", info.swarm.controlAvailable else {
            throw DockerError.notASwarmManager(endpoint: endpoint.description, state: info.swarm.localNodeState)
        }
        return info
    }

    // MARK: Nodes

    public func nodes() async throws -> [DockerNode] {
        try await get("/nodes", operation: "list swarm nodes")
    }

    public func node(_ id: String) async throws -> DockerNode {
        try await get("/nodes/\(id.percentEncoded)", operation: "inspect node \(id)")
    }

    /// Replaces the node's spec; `version` must be the one read with it.
    public func updateNode(_ id: String, version: DockerObjectVersion, spec: DockerNodeSpec) async throws {
        try await send(
            .json("POST", url: try await url("/nodes/\(id.percentEncoded)/update?version=\(version.index)"),
                  body: spec), operation: "update node \(id)")
    }

    // MARK: Services

    public func services(label: String? = nil) async throws -> [DockerService] {
        let filter = label.map { "?filters=" + Self.filters(["label": [$0]]) } ?? ""
        return try await get("/services" + filter, operation: "list services")
    }

    /// The service with this id or name, or nil when there is none.
    public func service(_ idOrName: String) async throws -> DockerService? {
        do {
            return try await get("/services/\(idOrName.percentEncoded)", operation: "inspect service \(idOrName)")
        } catch DockerError.notFound { return nil }
    }

    /// Creates the service and returns its id. Idempotent by name: when a service of that name
    /// exists already, its id is returned.
    @discardableResult
    public func createService(_ spec: DockerServiceSpec) async throws -> String {
        struct Created: Decodable { let id: String; enum CodingKeys: String, CodingKey { case id = "ID" } }
        let operation = "create service \(spec.name)"
        do {
            let response = try await send(.json("POST", url: try await url("/services/create"), body: spec),
                                          operation: operation)
            return try decode(Created.self, from: response, operation: operation).id
        } catch DockerError.conflict {
            guard let existing = try await service(spec.name) else { throw DockerError.conflict(
                operation: operation, message: "name conflicts with an object that is not a service") }
            return existing.id
        }
    }

    /// Replaces the service's spec; `version` must be the one read with it.
    public func updateService(_ id: String, version: DockerObjectVersion, spec: DockerServiceSpec) async throws {
        try await send(
            .json("POST", url: try await url("/services/\(id.percentEncoded)/update?version=\(version.index)"),
                  body: spec), operation: "update service \(id)")
    }

    /// Removes the service; one that is already gone counts as removed.
    public func removeService(_ idOrName: String) async throws {
        do {
            try await send(HTTPRequest(method: "DELETE", url: try await url("/services/\(idOrName.percentEncoded)")),
                           operation: "remove service \(idOrName)")
        } catch DockerError.notFound {}
    }

    // MARK: Tasks

    /// The tasks of a service, optionally only those with this desired state (`running`, `shutdown`).
    public func tasks(service: String, desiredState: String? = nil) async throws -> [DockerTask] {
        var filters = ["service": [service]]
        if let desiredState { filters["desired-state"] = [desiredState] }
        return try await get("/tasks?filters=" + Self.filters(filters), operation: "list tasks of \(service)")
    }

    /// Every task of the swarm, in one call (swarm keeps a few past tasks per service).
    public func allTasks() async throws -> [DockerTask] {
        try await get("/tasks", operation: "list tasks")
    }

    // MARK: Networks

    public func networks(name: String? = nil) async throws -> [DockerNetwork] {
        let filter = name.map { "?filters=" + Self.filters(["name": [$0]]) } ?? ""
        let networks: [DockerNetwork] = try await get("/networks" + filter, operation: "list networks")
        // Docker's name filter matches substrings; keep exact names only.
        return name.map { name in networks.filter { $0.name == name } } ?? networks
    }

    /// Creates an attachable overlay network and returns its id; an existing one of that name is reused.
    @discardableResult
    public func createOverlayNetwork(name: String, labels: [String: String] = [:]) async throws -> String {
        if let existing = try await networks(name: name).first { return existing.id }
        struct Request: Encodable {
            let name: String, driver = "overlay", attachable = true, checkDuplicate = true, labels: [String: String]
            enum CodingKeys: String, CodingKey {
                case name = "Name", driver = "Driver", attachable = "Attachable", checkDuplicate = "CheckDuplicate",
                    labels = "Labels"
            }
        }
        struct Created: Decodable { let id: String; enum CodingKeys: String, CodingKey { case id = "Id" } }
        let operation = "create network \(name)"
        let response: HTTPResponse
        do {
            response = try await send(
                .json("POST", url: try await url("/networks/create"), body: Request(name: name, labels: labels)),
                operation: operation)
        } catch let error as DockerError {
            // Two steps creating one owner's network at once: the later one is told of a conflict.
            if let existing = try await networks(name: name).first { return existing.id }
            throw error
        }
        return try decode(Created.self, from: response, operation: operation).id
    }

    /// Removes the network; one that is already gone counts as removed.
    public func removeNetwork(_ idOrName: String) async throws {
        do {
            try await send(HTTPRequest(method: "DELETE", url: try await url("/networks/\(idOrName.percentEncoded)")),
                           operation: "remove network \(idOrName)")
        } catch DockerError.notFound {}
    }

    // MARK: Events

    /// Opens `GET /events` once, calls `onOpen` when Docker has accepted it, and hands every event
    /// to `onEvent` until the connection ends (returns normally) or fails (throws). `since`
    /// (`seconds.nanoseconds`) replays the events from that time first. `DockerEventFeed` adds
    /// reconnection on top.
    public func streamEvents(types: [String], since: String? = nil, onOpen: @escaping @Sendable () -> Void = {},
                             onEvent: @escaping @Sendable (DockerEvent) -> Void) async throws {
        let operation = "follow Docker events"
        let replay = since.map { "&since=" + $0 } ?? ""
        let request = HTTPRequest(url: try await url("/events?filters=" + Self.filters(["type": types]) + replay))
        let splitter = EventLineSplitter(onEvent: onEvent)
        let response: HTTPResponse
        do {
            response = try await http.stream(request, onOpen: onOpen) { chunk in splitter.feed(chunk) }
        } catch let error as HTTPTransportError {
            throw DockerError.unreachable(endpoint: endpoint.description, error)
        }
        guard response.isSuccess else { throw error(for: response, operation: operation) }
    }

    // MARK: Logs

    /// Streams a service's output (`GET /services/{id}/logs`): the last `tail` lines, then, with
    /// `follow`, whatever follows until the task is cancelled. Each line goes to `onLine`.
    public func streamLogs(service: String, tail: Int, follow: Bool,
                           onLine: @escaping @Sendable (DockerLogLine) -> Void) async throws {
        let operation = "read the logs of \(service)"
        let query = "stdout=1&stderr=1&timestamps=1&tail=\(tail)&follow=\(follow ? 1 : 0)"
        let request = HTTPRequest(url: try await url("/services/\(service.percentEncoded)/logs?" + query))
        let splitter = DockerLogSplitter(onLine: onLine)
        let quiet = QuietTime()
        let http = self.http
        let response: HTTPResponse?
        do {
            response = try await withThrowingTaskGroup(of: HTTPResponse?.self) { group in
                group.addTask {
                    try await http.stream(request) { chunk in
                        // Time the reader of the lines held the feed (a slow client) is not Docker's quiet.
                        quiet.reset()
                        defer { quiet.reset() }
                        return splitter.feed(chunk)
                    }
                }
                if !follow {
                    // Docker's service logs can stall without ending (a task's node not sending its
                    // part): a read that is not followed ends once nothing has come for a while.
                    group.addTask {
                        while quiet.elapsed < Self.logsStallTime {
                            try await Task.sleep(for: .milliseconds(500))
                        }
                        return nil
                    }
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        } catch let error as HTTPTransportError {
            throw DockerError.unreachable(endpoint: endpoint.description, error)
        }
        guard let response else {
            splitter.finish()
            throw DockerError.unreachable(endpoint: endpoint.description, .failed(
                detail: "Docker sent nothing more of the logs of \(service) for \(Self.logsStallTime) and did not end them; the lines above are what it sent"))
        }
        guard response.isSuccess else { throw error(for: response, operation: operation) }
        splitter.finish()
    }

    /// How long a log read that is not followed waits for more before it ends.
    static let logsStallTime: Duration = .seconds(10)

    /// The time since something last arrived.
    private final class QuietTime: Sendable {
        private let since = Mutex(ContinuousClock.now)

        func reset() { since.withLock { $0 = .now } }
        var elapsed: Duration { ContinuousClock.now - since.withLock { $0 } }
    }

    // MARK: Plumbing

    private func url(_ path: String) async throws -> String {
        let version: String
        if let known = negotiatedVersion.withLock({ $0 }) { version = known } else { version = try await negotiateVersion() }
        return "\(endpoint.baseURL)/v\(version)\(path)"
    }

    private func get<Value: Decodable>(_ path: String, operation: String) async throws -> Value {
        let response = try await send(HTTPRequest(url: try await url(path)), operation: operation)
        return try decode(Value.self, from: response, operation: operation)
    }

    @discardableResult
    private func send(_ request: HTTPRequest, operation: String) async throws -> HTTPResponse {
        let response = try await exchange(request, operation: operation)
        guard response.isSuccess else { throw error(for: response, operation: operation) }
        return response
    }

    private func exchange(_ request: HTTPRequest, operation: String) async throws -> HTTPResponse {
        do {
            return try await http.send(request)
        } catch let error as HTTPTransportError {
            throw DockerError.unreachable(endpoint: endpoint.description, error)
        }
    }

    private func decode<Value: Decodable>(_ type: Value.Type, from response: HTTPResponse, operation: String) throws
        -> Value
    {
        do {
            return try JSONDecoder().decode(Value.self, from: response.body)
        } catch {
            throw DockerError.malformedResponse(
                operation: operation, detail: "\(error); body: \(response.bodyExcerpt())")
        }
    }

    private func error(for response: HTTPResponse, operation: String) -> DockerError {
        struct Message: Decodable { let message: String }
        let message = (try? JSONDecoder().decode(Message.self, from: response.body))?.message ?? response.bodyExcerpt()
        switch response.status {
        case 404: return .notFound(operation: operation, message: message)
        case 409: return .conflict(operation: operation, message: message)
        case _ where message.contains("update out of sequence"): return .conflict(operation: operation, message: message)
        default: return .api(operation: operation, status: response.status, message: message)
        }
    }

    /// Docker's `filters` query value: a JSON map from filter name to values, percent-encoded.
    static func filters(_ filters: [String: [String]]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: (try? encoder.encode(filters)) ?? Data("{}".utf8), as: UTF8.self)
        return json.percentEncoded
    }

    /// Compares dotted version numbers numerically (`1.9` < `1.41`).
    static func compare(_ left: String, _ right: String) -> Int {
        let a = left.split(separator: ".").map { Int($0) ?? 0 }
        let b = right.split(separator: ".").map { Int($0) ?? 0 }
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }
}

/// Cuts the event stream (one JSON object per line) into events; undecodable lines are skipped.
private final class EventLineSplitter: @unchecked Sendable {
    private var pending = Data()
    private let onEvent: @Sendable (DockerEvent) -> Void
    private let decoder = JSONDecoder()

    init(onEvent: @escaping @Sendable (DockerEvent) -> Void) { self.onEvent = onEvent }

    /// Called on libcurl's thread only, one chunk at a time.
    func feed(_ chunk: Data) -> Bool {
        pending.append(chunk)
        while let newline = pending.firstIndex(of: 0x0A) {
            let line = pending[pending.startIndex..<newline]
            pending = Data(pending[pending.index(after: newline)...])
            if let event = try? decoder.decode(DockerEvent.self, from: line) { onEvent(event) }
        }
        return true
    }
}
