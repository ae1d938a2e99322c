import DefpiTesting
import Engine
import Foundation
import Testing

@Suite("Model", .timeLimit(.minutes(3)))
struct ModelTests {
    @Test("generated ids are 24 hex digits and unique")
    func objectIDs() {
        let ids = (0..<10_000).map { _ in ObjectID.generate() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy(ObjectID.isValid))
        #expect(!ObjectID.isValid("1"))
        #expect(!ObjectID.isValid("zzzzzzzzzzzzzzzzzzzzzzzz"))
        #expect(ObjectID.isValid("5a0b1c2d3e4f5a6b7c8d9e0F"))
    }

    @Test("a process encodes with the original dEF-Pi field names, dates in epoch milliseconds")
    func processFieldNames() throws {
        let process = Fixtures.process(user: "5a0b1c2d3e4f5a6b7c8d9e0f")
        let json = try #require(try JSONSerialization.jsonObject(with: ModelCoding.encoder().encode(process)) as? [String: Any])
        for field in ["id", "name", "userId", "serviceId", "nodePoolId", "token", "state", "dockerId", "runningNodeId",
                      "configuration", "maxMemoryBytes", "maxNanoCPUs", "mountPoints", "exposePorts", "debuggingPort",
                      "suspendOnDebug", "serviceVersion", "created"] {
            #expect(json[field] != nil, "missing \(field)")
        }
        #expect(json["state"] as? String == "RUNNING")
        #expect((json["created"] as? NSNumber)?.int64Value == 1_795_000_000_123)
        #expect((json["configuration"] as? [[String: String]]) == [["key": "INTERVAL", "value": "5"]])
        #expect((json["exposePorts"] as? [[String: Int]]) == [["internal": 8080, "external": 18080]])
    }

    @Test("a process's token and saved state are stored, and left out of what fronts encode")
    func secrets() throws {
        var process = ServiceProcess(name: "m1", userId: "u1", serviceId: "meter", serviceVersion: "1.0.0", placement: .automatic,
                                     token: "the-token", created: Date(timeIntervalSince1970: 1_800_000_000))
        let stored = try ModelCoding.encoder().encode(process)
        #expect(String(decoding: stored, as: UTF8.self).contains("the-token"))
        #expect(!String(decoding: stored, as: UTF8.self).contains("suspendedState"), "a nil secret is left out, as nil fields are")
        #expect(try ModelCoding.decoder().decode(ServiceProcess.self, from: stored) == process)
        process.suspendedState = Data("state".utf8)
        let withState = try ModelCoding.encoder().encode(process)
        #expect(try ModelCoding.decoder().decode(ServiceProcess.self, from: withState).suspendedState == Data("state".utf8))
        let shown = String(decoding: try ModelCoding.redacted([process]), as: UTF8.self)
        #expect(!shown.contains("token") && !shown.contains("suspendedState") && shown.contains("\"name\":\"m1\""), "\(shown)")
        #expect(String(decoding: try ModelCoding.encoder().encode(process), as: UTF8.self).contains("the-token"),
                "redaction lasts only for the encoding that asked for it")
    }

    @Test("a node in the original's document shape decodes, unknown enum values fall back")
    func originalNodeDocument() throws {
        let json = """
            {"id":"5a0b1c2d3e4f5a6b7c8d9e0f","revision":3,"kind":"PUBLIC","name":"lab-1","dockerId":"ldieotutp",
             "hostname":"tb-w1","lastSync":1795000000123,"status":"ready","architecture":"RISCV","availability":"ACTIVE",
             "role":"WORKER","nodePoolId":"5a0b1c2d3e4f5a6b7c8d9e10","className":"org.flexiblepower.model.PublicNode"}
            """
        let node = try ModelCoding.decoder().decode(Node.self, from: Data(json.utf8))
        #expect(node.status == .ready)
        #expect(node.architecture == .unknown)
        #expect(node.lastSync == Fixtures.epoch)
        #expect(node.nodePoolId == "5a0b1c2d3e4f5a6b7c8d9e10")
    }

    @Test("Docker platform names map to architectures", arguments: [
        ("x86_64", Architecture.x86_64), ("amd64", .x86_64), ("aarch64", .arm64), ("arm64", .arm64),
        ("armv7l", .arm), ("armhf", .arm), ("riscv64", .unknown), ("", .unknown),
    ])
    func architectures(name: String, expected: Architecture) {
        #expect(Architecture(platformName: name) == expected)
    }

    @Test("a process's placement is one of pool, private node, public node, or automatic (none of them)")
    func placement() {
        var process = Fixtures.process(user: "u", pool: "pool-1")
        #expect(process.placement == .pool("pool-1"))
        process.placement = .privateNode("node-9")
        #expect(process.nodePoolId == nil && process.privateNodeId == "node-9" && process.publicNodeId == nil)
        process.placement = .publicNode("node-3")
        #expect(process.privateNodeId == nil && process.publicNodeId == "node-3")
        process.placement = .automatic
        #expect(process.nodePoolId == nil && process.privateNodeId == nil && process.publicNodeId == nil)
        #expect(process.placement == .automatic)
    }

    @Test("interface versions are compatible when each sends what the other receives")
    func interfaceCompatibility() {
        let meter = InterfaceVersion(versionName: "v1", receivesHash: "r", sendsHash: "s")
        #expect(meter.isCompatible(with: InterfaceVersion(versionName: "v1", receivesHash: "s", sendsHash: "r")))
        #expect(!meter.isCompatible(with: meter))
        let symmetric = InterfaceVersion(versionName: "v1", receivesHash: "x", sendsHash: "x")
        #expect(symmetric.isCompatible(with: symmetric))
    }

    @Test("a connection knows the endpoint on the other side")
    func otherEndpoint() {
        let connection = Fixtures.connection("a", "b")
        #expect(connection.otherEndpoint(of: "a")?.processId == "b")
        #expect(connection.otherEndpoint(of: "b")?.processId == "a")
        #expect(connection.otherEndpoint(of: "c") == nil)
    }
}
