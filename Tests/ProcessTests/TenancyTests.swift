import DefpiTesting
import Foundation
import Testing

@testable import Engine

/// A tenant stays in their environment on the node: no host path, no privileged or foreign
/// port, their own volumes only, and a container with trimmed privileges, through the CLI and
/// the REST API alike; an admin keeps every right.
@Suite("Tenancy on the node", .enabled(if: TestBed.hasSwarm && TestBed.hasRegistry), .timeLimit(.minutes(10)))
struct TenancyTests {
    @Test("a tenant's host paths, privileged and out-of-range ports, unsized tmpfs and unknown mount types are refused; nothing is stored")
    func refusals() async throws {
        let bed = try await MeterBed()
        try await bed.succeed(["user", "add", "bob", "--password-stdin"], input: "a-long-password\n")
        let refusals: [([String], String)] = [
            (["--mount", "/:/host"], "host path / is not allowed where the process is placed"),
            (["--mount", "/var/run/docker.sock:/run/docker.sock:bind"], "is not allowed where the process is placed"),
            (["--mount", SwarmGateway.directory + ":/gateway:bind,ro"], "is not allowed where the process is placed"),
            (["--mount", "data:/x:weird"], "weird is not an option"),
            (["--mount", "../etc:/x:volume"], "is not a volume name"),
            (["--mount", "data:/"], "other than /"),
            (["--mount", ":/scratch:tmpfs"], "needs a size"),
            (["--mount", ":/scratch:tmpfs,size=2g"], "at most"),
            (["--port", "80:8080"], "below 1024"),
            (["--port", "8080:8080"], "outside the ports you may publish (30000-32767)"),
        ]
        for (arguments, message) in refusals {
            let refused = try await bed.defpi(["process", "create", "meter", "--detach", "--as", "alice"] + arguments)
            #expect(refused.status != 0 && refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
        }
        let engine = try await bed.makeEngine()
        #expect(try await engine.processes.processes(by: .localOperator()).isEmpty)

        // The same rules for the REST API: a bind of / as alice is forbidden, an unknown type is a bad request.
        let server = try bed.serve()
        defer { server.kill() }
        #expect(await eventually(timeout: .seconds(10)) { server.errors.contains("REST API on http://") }, "\(server.errors)")
        let line = try #require(server.errors.split(separator: "\n").first { $0.contains("REST API on http://") })
        let base = String(line[line.range(of: "http://")!.lowerBound...]).trimmingCharacters(in: .whitespaces)
        for (mount, status) in [(#"{"source":"/","target":"/host","type":"bind"}"#, "403"), (#"{"source":"/","target":"/host"}"#, "403"),
                                (#"{"source":"x","target":"/host","type":"weird"}"#, "400")] {
            let answer = try await ChildProcess.run("/usr/bin/curl", [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:a-long-password", "-H", "Content-Type: application/json",
                "-d", #"{"serviceId":"meter","mountPoints":[\#(mount)]}"#, base + "/process"])
            #expect(answer.stdout == status, "\(mount): \(answer.stdout)")
        }
        #expect(try await engine.processes.processes(by: .localOperator()).isEmpty)

        // A quota of one process: the first gets the default limits, the second is refused with use and limit.
        // (Classified in the store only: nothing here works the queue, so no label is written.)
        try await bed.classifyForAlice([TestBed.processNodes[2]])
        #expect(try await bed.defpi("user", "quota", "alice", "--processes", "1").status == 0)
        let first = try await bed.defpi("process", "create", "meter", "--as", "alice", "--detach", "--name", "first")
        #expect(first.status == 0, "\(first.stderr)")
        let stored = try await engine.processes.process("first", by: .localOperator())
        #expect(stored.maxMemoryBytes == 256 << 20 && stored.maxNanoCPUs == 1_000_000_000, "a tenant's process is never unlimited by default")
        let second = try await bed.defpi("process", "create", "meter", "--as", "alice", "--detach")
        #expect(second.status != 0 && second.stderr.contains("the quota of processes would be exceeded: 1 in use and 1 more asked, the limit is 1"),
                "\(second.stderr)")
        let quota = try await bed.defpi("user", "quota", "alice", "--as", "alice")
        let lines = quota.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines.contains("Processes 1 of 1") && lines.contains("Memory 256 MiB (no limit)"), "\(quota.stdout)")
        let notAdmin = try await bed.defpi("user", "quota", "alice", "--as", "alice", "--processes", "9")
        #expect(notAdmin.status != 0 && notAdmin.stderr.contains("only an admin may set quotas"), "\(notAdmin.stderr)")

        // Her own port range: what she may publish, and nothing else.
        #expect(try await bed.defpi("user", "quota", "alice", "--processes", "0", "--ports", "31000-31009").status == 0)
        #expect(try await bed.defpi("user", "quota", "alice").stdout.contains("Host ports  31000-31009"), "the range is shown")
        let outside = try await bed.defpi("process", "create", "meter", "--as", "alice", "--detach", "--port", "30500:8080")
        #expect(outside.status != 0 && outside.stderr.contains("outside the ports you may publish (31000-31009)"), "\(outside.stderr)")
        #expect(try await bed.defpi("user", "quota", "alice", "--ports", "80-90").stderr.contains("from 1024 or more"))

        // Host paths an admin allowed on her node: exactly those, read-only unless allowed writable, only there.
        let (node, other) = (TestBed.processNodes[2], TestBed.processNodes[1])
        let allowed = try await bed.defpi("node", "allow-path", node, "/etc/hostname")
        #expect(allowed.stdout.contains("allows /etc/hostname (ro)"), "\(allowed.stdout)\(allowed.stderr)")
        #expect(try await bed.defpi("node", "allow-path", node, "/etc", "--as", "alice").stderr.contains("only an admin may allow host paths"))
        #expect(try await bed.defpi("node", "allow-path", node, "/etc/../root").stderr.contains("is not a host path to allow"))
        let device = ["process", "create", "meter", "--as", "alice", "--detach", "--node", node]
        let readOnly = try await bed.defpi(device + ["--name", "reader", "--mount", "/etc/hostname:/host-name:bind,ro"])
        #expect(readOnly.status == 0, "\(readOnly.stderr)")
        for (arguments, message) in [
            (device + ["--mount", "/etc/hostname:/host-name:bind"], "is allowed read-only here"),
            (device + ["--mount", "/etc/passwd:/p:bind,ro"], "host path /etc/passwd is not allowed where"),
            (["process", "create", "meter", "--as", "alice", "--detach", "--mount", "/etc/hostname:/h:bind,ro"], "is not allowed where"),
        ] {
            let refused = try await bed.defpi(arguments)
            #expect(refused.status != 0 && refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
        }
        try await bed.classifyForAlice([other])
        let moved = try await bed.defpi("process", "move", "reader", "--node", other, "--as", "alice", "--detach")
        #expect(moved.status != 0 && moved.stderr.contains("host path /etc/hostname is not allowed where"), "\(moved.stderr)")
        // The REST sub-resource: she reads her node's paths, only an admin replaces them.
        let nodeId = try await engine.nodes.node(node, by: .localOperator()).id
        let read = try await ChildProcess.run("/usr/bin/curl", ["-s", "-u", "alice:a-long-password", base + "/node/\(nodeId)/hostpath"])
        #expect(read.stdout == #"[{"path":"/etc/hostname","writable":false}]"#, "\(read.stdout)")
        let put = try await ChildProcess.run("/usr/bin/curl", [
            "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-u", "alice:a-long-password", "-H", "Content-Type: application/json",
            "-d", #"[{"path":"/","writable":true}]"#, base + "/node/\(nodeId)/hostpath"])
        #expect(put.stdout == "403", "\(put.stdout)")
        #expect(try await bed.defpi("node", "deny-path", node, "/etc/hostname").stdout.contains("allows no host paths"))
        let denied = try await bed.defpi(device + ["--mount", "/etc/hostname:/host-name:bind,ro"])
        #expect(denied.status != 0 && denied.stderr.contains("is not allowed where"), "\(denied.stderr)")
        #expect(try await bed.defpi("pool", "create", "lab").status == 0)
        #expect(try await bed.defpi("pool", "allow-path", "lab", "/srv/shared", "--rw").status == 0)
        #expect(try await bed.defpi("pool", "ls").stdout.contains("/srv/shared (rw)"))
    }

    @Test("a tenant's volume is their own, tmpfs is sized, the port is theirs alone, and capabilities are dropped; the meter runs")
    func deployed() async throws {
        let worker = TestBed.processNodes[1]
        let bed = try await MeterBed()
        try await bed.succeed(["user", "add", "bob", "--password-stdin"], input: "a-long-password\n")
        try await bed.classifyForAlice([worker])
        let hostPort = Int.random(in: 30000...32767)
        try await SwarmGateway.turn {
            let created = try await bed.defpi("process", "create", "meter", "--as", "alice", "--name", "meter-a", "--node", worker,
                                              "--mount", "data:/data", "--mount", ":/scratch:tmpfs,size=16m", "--port", "\(hostPort):8080")
            #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
            let engine = try await bed.makeEngine()
            let process = try await engine.processes.process("meter-a", by: .localOperator())
            let alice = try await engine.users.user("alice", by: .localOperator())
            let spec = try #require(try await bed.docker.service(process.id)).spec
            let mounts = spec.taskTemplate.containerSpec.mounts ?? []
            #expect(mounts.contains { $0.type == "volume" && $0.source == "defpi-\(alice.id)-data" && $0.target == "/data" }, "\(mounts)")
            #expect(mounts.contains { $0.type == "tmpfs" && $0.tmpfsOptions?.sizeBytes == 16 << 20 && $0.target == "/scratch" }, "\(mounts)")
            #expect(Set(spec.taskTemplate.containerSpec.capabilityDrop ?? []).isSuperset(of: ["CAP_NET_RAW", "CAP_MKNOD", "CAP_SYS_CHROOT",
                                                                                               "CAP_SETFCAP", "CAP_AUDIT_WRITE"]))
            #expect(spec.endpointSpec?.ports?.first?.publishedPort == hostPort)
            // No new privileges wherever the daemon takes the option (API 1.46 on), never sent to one that would drop it.
            let takesIt = try await bed.docker.speaks(atLeast: "1.46")
            #expect((spec.taskTemplate.containerSpec.privileges?.noNewPrivileges == true) == takesIt, "\(String(describing: spec.taskTemplate.containerSpec.privileges))")

            // The port is taken: alice is told by which of her processes, bob only that it is taken.
            let again = try await bed.defpi("process", "create", "meter", "--as", "alice", "--detach", "--port", "\(hostPort):9090")
            #expect(again.status != 0 && again.stderr.contains("published already by process meter-a"), "\(again.stderr)")
            let bobs = try await bed.defpi("process", "create", "meter", "--as", "bob", "--detach", "--port", "\(hostPort):9090")
            #expect(bobs.status != 0 && bobs.stderr.contains("published already by another process")
                    && !bobs.stderr.contains("meter-a"), "\(bobs.stderr)")
            // An admin may mount a host path, read-only, for a tenant.
            let admins = try await bed.defpi("process", "create", "meter", "--user", "alice", "--detach", "--name", "meter-b",
                                             "--mount", "/etc/hostname:/host-name:bind,ro")
            #expect(admins.status == 0, "\(admins.stderr)")
            #expect(try await bed.defpi("process", "rm", "meter-b", "--detach").status == 0)

            // Her network is this store's, and the gateway is on it while she has processes.
            let network = try #require(try await bed.docker.networks(name: "usernet-\(alice.id)").first)
            #expect(network.labels["org.defpi.store"] == engine.store.identity, "\(network.labels)")
            #expect(try await bed.docker.service(GatewayManager.serviceName)?.spec.taskTemplate.networks?.contains { $0.target == network.id } == true)
            #expect(try await bed.defpi("process", "rm", "meter-a").status == 0)
            #expect(try await bed.docker.networks(name: network.name).count == 1, "the network went while meter-b was left")
            #expect(try await bed.defpi("process", "rm", "meter-b").status == 0)  // Waits for the removal queued above.
            // Her last process gone, her network stays for a grace period (a redeploy restarts no
            // gateway), then the re-sync lets it go with the gateway's attachment (the manager
            // lists the network until the gateway's old container has left it).
            try await engine.processes.repair()
            #expect(try await bed.docker.networks(name: network.name).count == 1, "the network went before its grace period")
            try await engine.processes.repair(networkGrace: .zero)
            #expect(await eventually(timeout: .seconds(30)) { (try? await bed.docker.networks(name: network.name).isEmpty) == true },
                    "alice's network outlived her last process")
            let attached = try await bed.docker.service(GatewayManager.serviceName)?.spec.taskTemplate.networks ?? []
            #expect(!attached.contains { $0.target == network.id }, "\(attached)")
        }
    }

    @Test("a private node is not taken from under its owner's processes; with --move-to they move first, then it goes")
    func privateNodeEvacuated() async throws {
        let (node, other) = (TestBed.processNodes[1], TestBed.processNodes[2])
        let bed = try await MeterBed()
        try await bed.classifyForAlice([node, other])
        try await SwarmGateway.turn {
            let created = try await bed.defpi("process", "create", "meter", "--user", "alice", "--node", node, "--name", "tenant")
            #expect(created.status == 0, "\(created.stderr)")
            let refused = try await bed.defpi("node", "declassify", node)
            #expect(refused.status != 0 && refused.stderr.contains("private to the owner of processes tenant, which run there"),
                    "\(refused.stderr)")
            let evacuated = try await bed.defpi("node", "declassify", node, "--move-to", other)
            #expect(evacuated.status == 0 && evacuated.stdout.contains("tenant: move on node \(other)"), "\(evacuated.stdout)\(evacuated.stderr)")
            let engine = try await bed.makeEngine()
            let process = try await engine.processes.process("tenant", by: .localOperator())
            let otherNode = try await engine.nodes.node(other, by: .localOperator())
            #expect(process.placement == .privateNode(otherNode.id) && process.relocation == nil, "\(process.placement)")
            #expect(try await bed.docker.service(process.id)?.spec.taskTemplate.placement?.constraints == ["node.id == \(otherNode.dockerId)"])
            #expect(try await engine.nodes.node(node, by: .localOperator()).kind == .unidentified)
            #expect(try await bed.defpi("process", "rm", "tenant").status == 0)
        }
        try await bed.declassify([other])
    }
}
