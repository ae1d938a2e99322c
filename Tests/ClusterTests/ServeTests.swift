import DefpiTesting
import Engine
import Foundation
import Testing

extension SwarmNodeTests {
/// `defpi serve` and the read-only console as operators run them: the same Engine, headless or
/// watching only, stopped by signals.
@Suite("Serve and signals", .timeLimit(.minutes(10)))
struct ServeTests {
    let socket: String
    let gatewayDirectory = TemporaryDirectory.make().path
    var environment: [String: String]

    init() throws {
        socket = try #require(TestBed.dockerEndpoint?.unixSocketPath, "the test bed's swarm is not up")
        environment = ["DOCKER_HOST": "unix://\(socket)", "DEFPI_STORE": StoreBackend.sqlite.freshLocation(),
                       "DEFPI_GATEWAY_DIRECTORY": gatewayDirectory]
    }

    func defpi(_ arguments: String...) async throws -> DefpiCommand.Result {
        try await DefpiCommand.run(arguments, environment: environment)
    }

    func orgLabels(_ hostname: String) async throws -> [String: String] {
        let docker = DockerClient(endpoint: DockerEndpoint(unixSocketPath: socket))
        let node = try #require(try await docker.nodes().first { $0.description.hostname == hostname })
        return node.spec.labels.filter { $0.key.hasPrefix("org.defpi.") }
    }

    /// What the API socket answers to a trigger of an unknown process ("" when nothing answers).
    func apiAnswer() async throws -> String {
        try await ChildProcess.run("/usr/bin/curl", [
            "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "X-Auth-Token: x",
            "--unix-socket", gatewayDirectory + "/engine.sock", "http://defpi/process/trigger/\(ObjectID.generate())",
        ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("serve carries out what verbs queue, answers on the API socket, and stops on SIGTERM and SIGHUP")
    func serve() async throws {
        let worker = TestBed.nodeTestWorkers[0]
        #expect(try await defpi("pool", "create", "served").status == 0)
        let server = try DefpiCommand.spawn(["serve", "--listen", "127.0.0.1:0"], environment: environment)
        defer { server.kill() }
        let queued = try await defpi("node", "classify", worker, "--pool", "served", "--detach")
        #expect(queued.status == 0 && queued.stdout.hasPrefix("queued: "), "\(queued.stderr)")
        #expect(await eventually(timeout: .seconds(20)) { (try? await orgLabels(worker))?["org.defpi.class"] == "public" },
                "\(server.errors)")
        #expect(await eventually(timeout: .seconds(10)) { (try? await apiAnswer()) == "404" })

        kill(server.pid, SIGTERM)
        #expect(await server.exited() == 0, "\(server.errors)")
        #expect(server.errors.contains("serving: store") && server.errors.contains("stopped"), "\(server.errors)")

        let second = try DefpiCommand.spawn(["serve", "--log-level", "notice", "--listen", "127.0.0.1:0"], environment: environment)
        defer { second.kill() }
        // Once it answers on the API socket, its signal handlers are in place.
        #expect(await eventually(timeout: .seconds(10)) { (try? await apiAnswer()) == "404" })
        kill(second.pid, SIGHUP)
        #expect(await second.exited() == 0, "\(second.errors)")
        _ = try await defpi("node", "declassify", worker)
    }

    @Test("the REST API over TLS: sign in, a bearer token, sign out; no trigger; failed sign-ins throttled; stops on SIGTERM")
    func restOverTLS() async throws {
        let directory = TemporaryDirectory.make().path
        let (certificate, key) = (directory + "/cert.pem", directory + "/key.pem")
        let made = try await ChildProcess.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        try #require(made.status == 0, "\(made.stderr)")
        let added = try await DefpiCommand.run(["user", "add", "alice", "--password-stdin"], environment: environment,
                                               input: "a-long-password\n")
        try #require(added.status == 0, "\(added.stderr)")
        let server = try DefpiCommand.spawn(["serve", "--listen", "127.0.0.1:0", "--tls-cert", certificate, "--tls-key", key],
                                            environment: environment)
        defer { server.kill() }
        #expect(await eventually(timeout: .seconds(10)) { server.errors.contains("REST API on https://") }, "\(server.errors)")
        let line = try #require(server.errors.split(separator: "\n").first { $0.contains("REST API on https://") })
        let base = String(line[line.range(of: "https://")!.lowerBound...]).trimmingCharacters(in: .whitespaces)
        func curl(_ arguments: String...) async throws -> (status: Int, body: String, headers: String) {
            let headers = directory + "/headers"
            let result = try await ChildProcess.run("/usr/bin/curl", ["-s", "--cacert", certificate, "-D", headers,
                                                                     "-w", "\n%{http_code}"] + arguments)
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"),
                    (try? String(contentsOfFile: headers, encoding: .utf8)) ?? "")
        }
        let login = try await curl("-u", "alice:a-long-password", "-X", "POST", base + "/login")
        #expect(login.status == 201, "\(login.body)")
        let token = try #require(try JSONSerialization.jsonObject(with: Data(login.body.utf8)) as? [String: Any])["token"] as? String
        let listed = try await curl("-H", "Authorization: Bearer \(try #require(token))", base + "/process")
        #expect(listed.status == 200 && listed.body == "[]" && listed.headers.lowercased().contains("x-total-count: 0"),
                "\(listed)")
        // The trigger is the gateway socket's alone.
        let trigger = try await curl("-X", "PUT", "-H", "X-Auth-Token: x", base + "/process/trigger/\(ObjectID.generate())")
        #expect(trigger.status == 404 && trigger.body.contains("not_found"), "\(trigger)")
        let plain = try await ChildProcess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                                 base.replacingOccurrences(of: "https://", with: "http://") + "/diag"])
        #expect(plain.stdout != "200", "the TLS port answered plain HTTP")
        #expect(try await curl("-X", "POST", "-H", "Authorization: Bearer \(token ?? "")", base + "/logout").status == 204)
        #expect(try await curl("-H", "Authorization: Bearer \(token ?? "")", base + "/process").status == 401)
        // Six failures are checked; then the address waits (1 s, 2 s ... counted from each failure's
        // start), so under load one more failure may slip in after a wait has run out.
        var statuses: [Int] = []
        for _ in 0..<9 where statuses.last != 429 { statuses.append(try await curl("-u", "alice:wrong", base + "/process").status) }
        #expect(statuses.prefix(6) == [401, 401, 401, 401, 401, 401] && statuses.last == 429, "\(statuses)")
        let throttled = try await curl("-u", "alice:a-long-password", base + "/process")
        #expect(throttled.status == 429 && throttled.headers.lowercased().contains("retry-after: "), "\(throttled)")
        kill(server.pid, SIGTERM)
        #expect(await server.exited() == 0, "\(server.errors)")
    }

    @Test("a read-only console works no queue and serves no API; a signal quits it")
    func readOnlyConsole() async throws {
        let worker = TestBed.nodeTestWorkers[1]
        let created = try await defpi("pool", "create", "watched")
        #expect(created.status == 0, "\(created.stderr)")
        let pools = try JSONSerialization.jsonObject(with: Data(try await defpi("pool", "ls", "-o", "json").stdout.utf8)) as? [[String: Any]]
        let watched = try #require(pools?.first { $0["name"] as? String == "watched" }?["id"] as? String)
        let console = try TmuxSession("\(DefpiCommand.executable.path) console --read-only --log \(TemporaryDirectory.make().path)/console.log",
                                      environment: environment)
        defer { console.kill() }
        #expect(await eventually(timeout: .seconds(10)) { console.capture().contains(worker) }, "\(console.capture())")
        let queued = try await defpi("node", "classify", worker, "--pool", "watched", "--detach")
        #expect(queued.status == 0)
        try await Task.sleep(for: .seconds(3))
        // Other tests on the swarm may label this node for their own stores: only this change's pool
        // counts, and the label holds the pool's id.
        #expect(try await orgLabels(worker)["org.defpi.pool"] != watched, "a read-only console carried out a change")
        #expect(try await apiAnswer() == "000", "a read-only console serves the API")
        let waiting = try await defpi("change", "ls", "--state", "new", "-o", "json")
        #expect(waiting.stdout.contains("public in pool watched"))

        // The verb settles its own change when nothing else works the queue; then a signal quits.
        #expect(try await defpi("node", "declassify", worker).status == 0)
        kill(try console.programId(), SIGTERM)
        #expect(await eventually(timeout: .seconds(10)) { !console.isRunning }, "\(console.capture())")
    }
}
}
