import DefpiTesting
import Engine
import Foundation
import Testing

/// The REST API alone, as a script or the original's web UI drives it, on the test bed: an admin
/// adds a user and gives them two private nodes; the user deploys a meter and an aggregator,
/// connects them, moves the meter, and removes it all; the admin takes the nodes and the user back.
@Suite("REST API end to end", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct APIEndToEndTests {
    /// A client of one `defpi serve`, signing in with HTTP Basic.
    struct Client {
        let base: String

        func call(_ method: String, _ path: String, as user: String, _ body: String? = nil) async throws
            -> (status: Int, json: Any?, text: String)
        {
            var arguments = ["-s", "-X", method, "-u", "\(user):\(APIEndToEndTests.password)", "-w", "\n%{http_code}",
                             "-H", "Content-Type: application/json", base + path]
            if let body { arguments += ["-d", body] }
            let result = try await ChildProcess.run("/usr/bin/curl", arguments)
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let text = lines.dropLast().joined(separator: "\n")
            return (Int(lines.last ?? "") ?? 0, try? JSONSerialization.jsonObject(with: Data(text.utf8)), text)
        }

        /// The `field` of the JSON object at `path`.
        func field(_ field: String, of path: String, as user: String) async throws -> Any? {
            (try await call("GET", path, as: user).json as? [String: Any])?[field]
        }
    }

    static let password = "a-long-password"

    @Test("an admin adds bob and his nodes; bob deploys, connects, moves and removes through the API alone")
    func scriptThroughTheAPI() async throws {
        let nodes = [TestBed.processNodes[1], TestBed.processNodes[2]]
        let bed = try await MeterBed(alsoPublish: [.aggregator], autoConnect: false)
        try await bed.succeed(["user", "add", "root", "--admin", "--password-stdin"], input: Self.password + "\n")
        try await SwarmGateway.turn {
            let server = try bed.serve()
            defer { server.kill() }
            #expect(await eventually(timeout: .seconds(10)) { server.errors.contains("REST API on http://") }, "\(server.errors)")
            let line = try #require(server.errors.split(separator: "\n").first { $0.contains("REST API on http://") })
            let api = Client(base: String(line[line.range(of: "http://")!.lowerBound...]).trimmingCharacters(in: .whitespaces))

            let bob = try await api.call("POST", "/user", as: "root", #"{"username":"bob","password":"a-long-password"}"#)
            #expect(bob.status == 201, "\(bob.text)")
            let bobId = try #require((bob.json as? [String: Any])?["id"] as? String)
            var nodeIds: [String] = []
            for node in nodes {
                let classified = try await api.call("POST", "/privatenode", as: "root", "{\"nodeId\":\"\(node)\",\"userId\":\"\(bobId)\"}")
                #expect(classified.status == 201, "\(classified.text)")
                nodeIds.append(try #require((classified.json as? [String: Any])?["id"] as? String))
            }
            #expect((try await api.call("GET", "/privatenode", as: "bob").json as? [Any])?.count == 2)

            var processIds: [String] = []
            for (service, name) in [("meter", "m1"), ("aggregator", "a1")] {
                let created = try await api.call("POST", "/process", as: "bob", """
                    {"serviceId":"\(service)","name":"\(name)","privateNodeId":"\(nodeIds[0])",
                     "configuration":[{"key":"INTERVAL","value":"0.2"}]}
                    """)
                #expect(created.status == 201, "\(created.text)")
                processIds.append(try #require((created.json as? [String: Any])?["id"] as? String))
            }
            for id in processIds {
                #expect(await eventually(timeout: .seconds(90)) {
                    (try? await api.field("state", of: "/process/\(id)", as: "bob")) as? String == "RUNNING"
                }, "\(server.errors.suffix(3000))")
            }

            // The logs stream as plain text; a made-up tail is refused before anything streams.
            let logs = try await api.call("GET", "/process/\(processIds[0])/logs?tail=20", as: "bob")
            #expect(logs.status == 200 && !logs.text.isEmpty && logs.text.split(separator: "\n").count <= 20, "\(logs.text.prefix(500))")
            #expect(try await api.call("GET", "/process/\(processIds[0])/logs?tail=99999999", as: "bob").status == 400)
            #expect(try await api.call("GET", "/process/\(processIds[0])/logs", as: "root").status == 200)

            let connected = try await api.call("POST", "/connection", as: "bob", """
                {"endpoint1":{"processId":"\(processIds[0])","interfaceId":"readings"},
                 "endpoint2":{"processId":"\(processIds[1])","interfaceId":"readings-in"}}
                """)
            #expect(connected.status == 201, "\(connected.text)")
            let connectionId = try #require((connected.json as? [String: Any])?["id"] as? String)
            #expect(await eventually(timeout: .seconds(60)) {
                let connection = try? await api.call("GET", "/connection/\(connectionId)", as: "bob").json as? [String: Any]
                return ["endpoint1", "endpoint2"].allSatisfy { ((connection?[$0] as? [String: Any])?["state"] as? String) == "CONNECTED" }
            }, "\(server.errors.suffix(3000))")

            let moved = try await api.call("PUT", "/process/\(processIds[0])", as: "bob", "{\"privateNodeId\":\"\(nodeIds[1])\"}")
            #expect(moved.status == 200, "\(moved.text)")
            #expect(await eventually(timeout: .seconds(90)) {
                let process = try? await api.call("GET", "/process/\(processIds[0])", as: "bob").json as? [String: Any]
                return process?["runningNodeId"] as? String == nodeIds[1] && process?["state"] as? String == "RUNNING"
                    && process?["relocation"] == nil
            }, "\(server.errors.suffix(3000))")
            // Docker runs it there (not only the Engine's record says so), and its connection comes back.
            let target = try #require(try await api.field("dockerId", of: "/privatenode/\(nodeIds[1])", as: "root") as? String)
            let docker = DockerClient(endpoint: try #require(TestBed.dockerEndpoint))
            #expect(await eventually(timeout: .seconds(30)) {
                let tasks = (try? await docker.tasks(service: processIds[0], desiredState: "running")) ?? []
                return !tasks.isEmpty && tasks.allSatisfy { $0.nodeID == target && $0.status.state == "running" }
            }, "no running task of the moved process on \(target)")
            #expect(await eventually(timeout: .seconds(60)) {
                let connection = try? await api.call("GET", "/connection/\(connectionId)", as: "bob").json as? [String: Any]
                return ["endpoint1", "endpoint2"].allSatisfy { ((connection?[$0] as? [String: Any])?["state"] as? String) == "CONNECTED" }
            }, "the connection did not come back after the move: \(server.errors.suffix(3000))")

            #expect(try await api.call("DELETE", "/connection/\(connectionId)", as: "bob").status == 204)
            for id in processIds { #expect(try await api.call("DELETE", "/process/\(id)", as: "bob").status == 204) }
            #expect(await eventually(timeout: .seconds(60)) {
                (try? await api.call("GET", "/process", as: "bob").json as? [Any])?.isEmpty == true
            }, "\(server.errors.suffix(3000))")
            for id in nodeIds { #expect(try await api.call("DELETE", "/privatenode/\(id)", as: "root").status == 204) }
            let removed = try await api.call("DELETE", "/user/\(bobId)", as: "root")
            #expect(removed.status == 204, "\(removed.text)")
            #expect(try await api.call("GET", "/process", as: "bob").status == 401, "bob is gone")
        }
    }
}
