import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// The process rules that need no cluster: names, configuration and limits; placement with its
/// reasons; what Docker's tasks say of a process's state.
@Suite("Process rules", .timeLimit(.minutes(3)))
struct ProcessRulesTests {
    @Test("names: lower-case letters, digits and dashes", arguments: [
        ("meter-1", true), ("m", true), ("9lives", true), ("Meter", false), ("meter_1", false), ("-meter", false),
        ("", false), ("a b", false), (String(repeating: "a", count: 49), false),
    ])
    func names(name: String, valid: Bool) {
        #expect(((try? ProcessRules.checkName(name)) != nil) == valid)
    }

    @Test("configuration: env-like keys, each once, bounded values; every refusal says why", arguments: [
        ([("INTERVAL", "2"), ("_x.y-z", "")], nil),
        ([("1BAD", "x")], "\"1BAD\" is not a key"),
        ([("A B", "x")], "\"A B\" is not a key"),
        ([("A", "1"), ("A", "2")], "A is given twice"),
        ([("BIG", String(repeating: "x", count: 4097))], "the value of BIG has 4097 bytes"),
    ] as [([(String, String)], String?)])
    func configuration(entries: [(String, String)], refusal: String?) {
        let parameters = entries.map { ProcessParameter(key: $0.0, value: $0.1) }
        do {
            try ProcessRules.checkConfiguration(parameters)
            #expect(refusal == nil)
        } catch let error as ProcessError {
            #expect(refusal.map { error.userMessage.contains($0) } == true, "\(error.userMessage)")
        } catch {
            Issue.record("not a ProcessError: \(error)")
        }
    }

    @Test("limits and ports are checked")
    func limits() {
        #expect(throws: ProcessError.self) { try ProcessRules.checkResources(memoryBytes: 1024, nanoCPUs: 0, ports: []) }
        #expect(throws: ProcessError.self) {
            try ProcessRules.checkResources(memoryBytes: 0, nanoCPUs: 0, ports: [.init(internal: 80, external: 8080), .init(internal: 81, external: 8080)])
        }
        #expect(throws: Never.self) {
            try ProcessRules.checkResources(memoryBytes: 64 << 20, nanoCPUs: 500_000_000, ports: [.init(internal: 80, external: 8080)])
        }
    }

    /// A mount or port, whether an admin may have it, and whether a user may (nil: allowed), where
    /// `/dev/ttyUSB0` is allowed read-only and `/srv/shared` read-write.
    static let tenancy: [(mounts: [MountPoint], ports: [ExposePort], admin: String?, user: String?)] = [
        ([.init(source: "/", target: "/host")], [], nil, "host path / is not allowed where the process is placed"),
        ([.init(source: "/dev/ttyUSB0", target: "/dev/ttyUSB0", type: .bind, readOnly: true)], [], nil, nil),
        ([.init(source: "/dev/ttyUSB0", target: "/dev/ttyUSB0", type: .bind)], [], nil, "is allowed read-only here"),
        ([.init(source: "/dev/ttyUSB1", target: "/dev/ttyUSB0", type: .bind, readOnly: true)], [], nil, "is not allowed where"),
        ([.init(source: "/srv/shared", target: "/data", type: .bind)], [], nil, nil),
        ([.init(source: "/srv/shared/x", target: "/data", type: .bind)], [], nil, "is not allowed where"),
        ([.init(source: "/srv/../etc", target: "/x", type: .bind)], [], "without ..", "without .."),
        ([.init(source: "data", target: "/data")], [], nil, nil),
        ([.init(source: "data", target: "/data", type: .volume, readOnly: true)], [], nil, nil),
        ([.init(source: "../data", target: "/data", type: .volume)], [], "not a volume name", "not a volume name"),
        ([.init(source: "data", target: "dev")], [], "other than /", "other than /"),
        ([.init(source: "data", target: "/")], [], "other than /", "other than /"),
        ([.init(source: "a", target: "/x"), .init(source: "b", target: "/x")], [], "mounted twice", "mounted twice"),
        ([.init(source: "", target: "/t", type: .tmpfs)], [], nil, "needs a size"),
        ([.init(source: "", target: "/t", type: .tmpfs, sizeBytes: 64 << 20)], [], nil, nil),
        ([.init(source: "", target: "/t", type: .tmpfs, sizeBytes: 2 << 30)], [], nil, "at most"),
        ([.init(source: "data", target: "/t", type: .volume, sizeBytes: 1)], [], "only a tmpfs", "only a tmpfs"),
        ([], [.init(internal: 80, external: 80)], nil, "below 1024"),
        ([], [.init(internal: 80, external: 8080)], nil, "outside the ports you may publish (30000-32767)"),
        ([], [.init(internal: 80, external: 30080)], nil, nil),
    ]

    @Test("tenancy: what an admin and a user may mount and publish", arguments: 0..<tenancy.count)
    func tenancyRules(index: Int) {
        let rule = Self.tenancy[index]
        for (admin, refusal) in [(true, rule.admin), (false, rule.user)] {
            do {
                try TenancyRules.check(mounts: rule.mounts, ports: rule.ports, allowedPorts: .tenantDefault,
                                       hostPaths: [HostPathGrant(path: "/dev/ttyUSB0"), HostPathGrant(path: "/srv/shared", writable: true)],
                                       memoryBytes: 0, admin: admin)
                #expect(refusal == nil, "\(rule) admin \(admin): allowed")
            } catch {
                #expect(refusal.map { "\(error)".contains($0) } == true, "\(rule) admin \(admin): \(error)")
            }
        }
    }

    @Test("an unknown mount type is an error, never a bind")
    func closedMountTypes() throws {
        let json = #"{"source":"/","target":"/host","type":"weird"}"#
        #expect(throws: DecodingError.self) { try ModelCoding.decoder().decode(MountPoint.self, from: Data(json.utf8)) }
    }

    static let alice = User(id: "a1", username: "alice")
    static let meter = Service(id: "meter", name: "Meter", version: "1.0.0", registry: "r", tags: [.x86_64: "1.0.0-amd64"])

    static func node(_ name: String, kind: NodeKind = .public, pool: String? = "edge", owner: String? = nil,
                     status: NodeStatus = .ready, availability: NodeAvailability = .active, architecture: Architecture = .x86_64) -> Node {
        Node(id: name, kind: kind, name: name, dockerId: "d-\(name)", hostname: name, status: status, architecture: architecture,
             availability: availability, nodePoolId: kind == .public ? pool : nil, userId: owner)
    }

    @Test("placement: only ready, active nodes with an image, private ones for their owner; least loaded, then the owner's")
    func placement() {
        let nodes = [
            Self.node("busy"), Self.node("idle"), Self.node("mine", kind: .private, owner: "a1"),
            Self.node("bobs", kind: .private, owner: "b1"), Self.node("down", status: .down), Self.node("drained", availability: .drain),
            Self.node("pi", architecture: .arm64), Self.node("new", kind: .unidentified), Self.node("other", pool: "lab"),
        ]
        let placement = Placement(nodes: nodes, load: ["busy": 3, "idle": 1, "mine": 1, "other": 1], ownerLoad: ["mine": 1])
        let anywhere = placement.decide(.automatic, owner: Self.alice, service: Self.meter)
        #expect(anywhere.eligible.map(\.name) == ["mine", "idle", "other", "busy"])
        let reasons = Dictionary(uniqueKeysWithValues: anywhere.rejected.map { ($0.node.name, $0.reason) })
        #expect(reasons["bobs"] == nil && !anywhere.reasons.joined().contains("bobs"), "another user's private node is never named")
        #expect(reasons["down"] == "is down")
        #expect(reasons["drained"] == "is drained")
        #expect(reasons["pi"] == "is arm64, and meter 1.0.0 has images for x86_64 only")
        #expect(reasons["new"] == nil, "unidentified nodes are no target of automatic placement")
        let pool = placement.decide(.pool("edge"), owner: Self.alice, service: Self.meter)
        #expect(pool.eligible.map(\.name) == ["idle", "busy"])
        let bobs = placement.decide(.privateNode("bobs"), owner: Self.alice, service: Self.meter)
        #expect(bobs.eligible.isEmpty && bobs.reasons.isEmpty)
    }

    static func task(_ state: String, error: String? = nil, at time: String) throws -> DockerTask {
        let json = """
            {"ID": "t", "ServiceID": "s", "DesiredState": "running", "UpdatedAt": "\(time)",
             "Status": {"State": "\(state)"\(error.map { ", \"Err\": \"\($0)\"" } ?? "")}}
            """
        return try JSONDecoder().decode(DockerTask.self, from: Data(json.utf8))
    }

    @Test("Docker's tasks: failures and nodes down show as FAILING and NODE_DOWN; a container running again is STARTING")
    func health() throws {
        var process = ServiceProcess(name: "m", userId: "a1", serviceId: "meter", serviceVersion: "1.0.0", placement: .automatic,
                                     state: .running, dockerId: "s", runningNodeId: "idle")
        let ready = Self.node("idle"), down = Self.node("idle", status: .down)
        let failed = try Self.task("rejected", error: "No such image: r/meter:9", at: "2026-01-01T00:00:02Z")
        let older = try Self.task("running", at: "2026-01-01T00:00:01Z")
        let assessed = ProcessHealth.assess(process, tasks: [older, failed], node: ready)
        #expect(assessed?.0 == .failing && assessed?.1 == "its task rejected: No such image: r/meter:9")
        #expect(ProcessHealth.assess(process, tasks: [older], node: down)?.0 == .nodeDown)
        #expect(ProcessHealth.assess(process, tasks: [older], node: ready) == nil, "a running process is the process's to tell")
        process.state = .failing
        #expect(ProcessHealth.assess(process, tasks: [older, try Self.task("running", at: "2026-01-01T00:00:03Z")], node: ready)?.0 == .starting)
        process.state = .suspended
        #expect(ProcessHealth.assess(process, tasks: [failed], node: down) == nil)
    }
}
