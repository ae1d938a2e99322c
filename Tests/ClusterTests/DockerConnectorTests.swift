import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// The Docker connector against the test bed's swarm manager.
@Suite("Docker connector", .enabled(if: TestBed.hasSwarm), .timeLimit(.minutes(1)))
struct DockerConnectorTests {
    let docker: DockerClient

    init() throws {
        docker = DockerClient(endpoint: try #require(TestBed.dockerEndpoint, "the test bed's swarm is not up"))
    }

    /// A busybox service that sleeps on the manager (workers may be stopped by other tests).
    func sleeperSpec(_ name: String, env: [String] = []) -> DockerServiceSpec {
        DockerServiceSpec(
            name: name, labels: ["org.defpi.test": "yes"],
            taskTemplate: .init(
                containerSpec: .init(image: ProcessInfo.processInfo.environment["TESTBED_BUSYBOX_IMAGE"]!,
                                     command: ["sleep", "600"], env: env, stopGracePeriod: 1_000_000_000),
                placement: .init(constraints: ["node.role==manager"]),
                restartPolicy: .init(condition: "none")))
    }

    @Test("the API version is negotiated from /_ping and the daemon is an active swarm manager")
    func versionAndInfo() async throws {
        let version = try await docker.negotiateVersion()
        // The daemon's own version, as its /_ping says it, capped to the newest this client speaks.
        let socket = try #require(TestBed.dockerEndpoint?.unixSocketPath)
        let ping = try await ChildProcess.run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "--unix-socket", socket, "http://docker/_ping"])
        let daemon = try #require(ping.stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("api-version:") }?
            .split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) }, "\(ping.stdout)")
        #expect(version == (DockerClient.compare(daemon, DockerClient.maximumAPIVersion) > 0 ? DockerClient.maximumAPIVersion : daemon),
                "daemon \(daemon), negotiated \(version)")
        let info = try await docker.requireSwarmManager()
        #expect(info.swarm.controlAvailable && info.swarm.localNodeState == "active" && !info.swarm.nodeID.isEmpty)
    }

    @Test("nodes list and inspect; labels update with the version index, a stale index is a conflict")
    func nodes() async throws {
        let nodes = try await docker.nodes()
        #expect(Set(nodes.map(\.description.hostname)) == Set(TestBed.nodeNames))
        let manager = try #require(nodes.first { $0.spec.role == "manager" })
        let inspected = try await docker.node(manager.id)
        #expect(inspected.description.hostname == manager.description.hostname)
        #expect(!inspected.description.architecture.isEmpty)

        let key = "org.defpi.test.\(ObjectID.generate())"
        var spec = inspected.spec
        spec.labels[key] = "1"
        try await docker.updateNode(manager.id, version: inspected.version, spec: spec)
        #expect(try await docker.node(manager.id).spec.labels[key] == "1")

        await #expect {
            try await docker.updateNode(manager.id, version: inspected.version, spec: inspected.spec)
        } throws: { error in
            guard case DockerError.conflict(_, let message) = error else { return false }
            return message.contains("out of sequence")
        }
        let latest = try await docker.node(manager.id)
        spec = latest.spec
        spec.labels[key] = nil
        try await docker.updateNode(manager.id, version: latest.version, spec: spec)
        #expect(try await docker.node(manager.id).spec.labels[key] == nil)

        await #expect(throws: DockerError.self) { try await docker.node("no-such-node") }
    }

    @Test("services: create is idempotent by name, update takes the version index, remove twice succeeds")
    func services() async throws {
        let name = "defpi-test-\(ObjectID.generate().suffix(8))"
        let id = try await docker.createService(sleeperSpec(name))
        #expect(try await docker.createService(sleeperSpec(name)) == id)

        let created = try #require(try await docker.service(name))
        #expect(created.id == id && created.spec.labels["org.defpi.test"] == "yes")
        #expect(created.spec.endpointSpec?.mode == "dnsrr")
        #expect(try await docker.services(label: "org.defpi.test=yes").contains { $0.id == id })

        #expect(try await eventually(timeout: .seconds(30)) {
            try await docker.tasks(service: id, desiredState: "running").first?.status.state == "running"
        })
        let task = try #require(try await docker.tasks(service: id).first)
        #expect(task.status.containerID?.isEmpty == false && task.nodeID?.isEmpty == false)

        try await docker.updateService(id, version: created.version, spec: sleeperSpec(name, env: ["MODE=updated"]))
        #expect(try await docker.service(id)?.spec.taskTemplate.containerSpec.env == ["MODE=updated"])
        await #expect(throws: DockerError.self) {
            try await docker.updateService(id, version: created.version, spec: sleeperSpec(name))
        }

        try await docker.removeService(id)
        try await docker.removeService(id)
        #expect(try await docker.service(id) == nil)
    }

    @Test("a bad image reference is refused with Docker's message and HTTP 400")
    func badImage() async throws {
        var spec = sleeperSpec("defpi-test-bad")
        spec.taskTemplate.containerSpec.image = "UPPER CASE/not valid"
        await #expect {
            try await docker.createService(spec)
        } throws: { error in
            guard let error = error as? DockerError, error.httpStatus == 400 else { return false }
            return error.userMessage.contains("create service defpi-test-bad") && error.userMessage.contains("HTTP 400")
        }
    }

    @Test("overlay networks: create (idempotent, also twice at once), list by exact name, remove twice")
    func networks() async throws {
        let name = "defpi-test-net-\(ObjectID.generate().suffix(8))"
        // Two creations at once (two processes of one owner deployed together): one network, one id.
        async let first = docker.createOverlayNetwork(name: name, labels: ["org.defpi.test": "yes"])
        async let second = docker.createOverlayNetwork(name: name, labels: ["org.defpi.test": "yes"])
        let (id, other) = try await (first, second)
        #expect(id == other)
        #expect(try await docker.createOverlayNetwork(name: name) == id)
        let listed = try await docker.networks(name: name)
        #expect(listed.count == 1)
        #expect(listed[0].driver == "overlay" && listed[0].attachable && listed[0].scope == "swarm")
        #expect(listed[0].labels["org.defpi.test"] == "yes")
        #expect(try await docker.networks(name: String(name.dropLast(2))).isEmpty)
        try await docker.removeNetwork(id)
        try await docker.removeNetwork(name)
        #expect(try await docker.networks(name: name).isEmpty)
    }

    @Test("the event feed delivers service events from the manager")
    func events() async throws {
        let name = "defpi-test-ev-\(ObjectID.generate().suffix(8))"
        let updates = DockerEventFeed(client: docker).updates()
        var iterator = updates.makeAsyncIterator()
        guard case .connected(reconnect: false) = try #require(await iterator.next()) else {
            Issue.record("the feed did not start with .connected")
            return
        }
        try await Task.sleep(for: .milliseconds(300))
        let id = try await docker.createService(sleeperSpec(name))
        defer { Task { try? await docker.removeService(id) } }
        let seen = try await firstEvent(in: &iterator, within: .seconds(10)) {
            $0.type == "service" && $0.action == "create" && $0.attributes["name"] == name
        }
        #expect(seen?.actorID == id)
    }

    @Test("the event feed reconnects after the connection drops, announces it, and replays what it missed")
    func reconnect() async throws {
        let proxy = try SocketProxy(target: try #require(TestBed.dockerEndpoint?.unixSocketPath))
        defer { proxy.stop() }
        let proxied = DockerClient(endpoint: DockerEndpoint(unixSocketPath: proxy.path))
        var feed = DockerEventFeed(client: proxied)
        feed.initialBackoff = .milliseconds(200)
        feed.maximumBackoff = .milliseconds(400)
        var iterator = feed.updates().makeAsyncIterator()
        _ = await iterator.next()  // connected
        let before = try await docker.createService(sleeperSpec("defpi-test-rc1-\(ObjectID.generate().suffix(6))"))
        defer { Task { try? await docker.removeService(before) } }
        #expect(try await firstEvent(in: &iterator, within: .seconds(10)) { $0.actorID == before } != nil)

        proxy.stop()
        var sawDisconnect = false
        while let update = await iterator.next() {
            if case .disconnected = update { sawDisconnect = true; break }
        }
        #expect(sawDisconnect)
        // While the feed is down, a service appears; the feed must replay it after reconnecting.
        let missed = try await docker.createService(sleeperSpec("defpi-test-rc2-\(ObjectID.generate().suffix(6))"))
        defer { Task { try? await docker.removeService(missed) } }
        try proxy.start()
        var reconnected = false
        var replayed = false
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline, !(reconnected && replayed), let update = await iterator.next() {
            if case .connected(reconnect: true) = update { reconnected = true }
            if case .event(let event) = update, event.actorID == missed { replayed = true }
        }
        #expect(reconnected)
        #expect(replayed)
    }

    @Test("open event streams never starve other calls of threads")
    func manyStreams() async throws {
        // Blocking transfers sharing a pool of one thread per core held each call back about a
        // second per stream past the pool's width. So the starvation itself is measured: the
        // latency of one call while the streams open and once they are all open, against the
        // same call alone. The stream count is far past the core count on any machine.
        let clock = ContinuousClock()
        let alone = try await clock.measure { _ = try await docker.info() }
        let streamCount = max(24, ProcessInfo.processInfo.activeProcessorCount * 4)
        let feeds = (0..<streamCount).map { _ in DockerEventFeed(client: docker).updates() }
        let whileOpening = try await clock.measure { _ = try await docker.info() }
        var iterators = feeds.map { $0.makeAsyncIterator() }
        for index in iterators.indices {
            guard case .connected = await iterators[index].next() else {
                Issue.record("stream \(index) did not open")
                return
            }
        }
        let allOpen = try await clock.measure { _ = try await docker.nodes() }
        let bound = alone + .seconds(1)
        #expect(whileOpening < bound, "a call while \(streamCount) streams open: \(whileOpening), alone: \(alone)")
        #expect(allOpen < bound, "a call with \(streamCount) streams open: \(allOpen), alone: \(alone)")
    }

    @Test("a missing socket is an unreachable error naming the socket and what to check, quickly")
    func missingSocket() async throws {
        let client = DockerClient(endpoint: DockerEndpoint(unixSocketPath: "/nonexistent/docker.sock"))
        let started = ContinuousClock.now
        await #expect {
            try await client.nodes()
        } throws: { error in
            guard case DockerError.unreachable(_, .cannotConnect) = error else { return false }
            let message = (error as! DockerError).userMessage
            return message.contains("unix:///nonexistent/docker.sock") && message.contains("is dockerd running")
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("a daemon that accepts and never answers times out at the request timeout, saying what to check")
    func hungDaemon() async throws {
        let server = try SilentServer()
        defer { server.stop() }
        let client = DockerClient(endpoint: try DockerEndpoint(host: "tcp://127.0.0.1:\(server.port)"), requestTimeout: .seconds(2))
        let started = ContinuousClock.now
        await #expect {
            try await client.nodes()
        } throws: { error in
            guard case DockerError.unreachable(_, .timedOut) = error else { return false }
            return (error as! DockerError).userMessage.contains("is the daemon overloaded or hung?")
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .seconds(2) && waited < .seconds(6), "\(waited)")
    }

    @Test("a server that is not Docker is named as such")
    func notDocker() async throws {
        let registry = try #require(TestBed.registryURL)
        let client = DockerClient(endpoint: try DockerEndpoint(host: registry.replacingOccurrences(of: "http://", with: "tcp://")))
        await #expect {
            try await client.nodes()
        } throws: { error in
            guard case DockerError.malformedResponse = error else { return false }
            return (error as! DockerError).userMessage.contains("is DOCKER_HOST a Docker Engine?")
        }
    }

    @Test("a daemon that accepts but never answers times out with a clear error")
    func silentDaemon() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let client = DockerClient(endpoint: DockerEndpoint(unixSocketPath: silent.path), requestTimeout: .seconds(1))
        let started = ContinuousClock.now
        await #expect {
            try await client.info()
        } throws: { error in
            guard case DockerError.unreachable(_, .timedOut) = error else { return false }
            return (error as! DockerError).userMessage.contains("no answer within")
        }
        // The 1 s timeout, not the default 30 s (with room for a busy test run).
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    private func firstEvent(in iterator: inout AsyncStream<DockerFeedUpdate>.AsyncIterator, within timeout: Duration,
                            where matches: (DockerEvent) -> Bool) async throws -> DockerEvent? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, let update = await iterator.next() {
            if case .event(let event) = update, matches(event) { return event }
        }
        return nil
    }
}
