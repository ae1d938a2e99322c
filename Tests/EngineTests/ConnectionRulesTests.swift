import DefpiTesting
@testable import Engine
import Foundation
import Testing

/// Every rule a new connection must satisfy, each refusal with the message it gives, the
/// version pair chosen, the port, and how candidates are classified.
@Suite("Connection rules", .timeLimit(.minutes(3)))
struct ConnectionRulesTests {
    static let alice = "6b0fc7eadb89fb5433e4d001"
    static let bob = "6b0fc7eadb89fb5433e4d002"

    static func interface(_ service: String, _ name: String, multiple: Bool, _ versions: [(String, String, String)]) -> Interface {
        Interface(id: "\(service)/\(name.lowercased().replacingOccurrences(of: " ", with: "-"))", name: name, serviceId: service,
                  interfaceVersions: versions.map { InterfaceVersion(versionName: $0.0, receivesHash: $0.1, sendsHash: $0.2) },
                  allowMultiple: multiple, autoConnect: true)
    }

    static let meter = Service(id: "meter", name: "Meter", version: "1.0.0", registry: "r", interfaces: [
        interface("meter", "Readings", multiple: false, [("v1", "setpoint", "reading"), ("v2", "setpoint2", "reading2")]),
        interface("meter", "Status", multiple: true, [("v1", "text", "status")]),
    ])
    static let aggregator = Service(id: "aggregator", name: "Aggregator", version: "1.0.0", registry: "r", interfaces: [
        interface("aggregator", "Readings in", multiple: true, [("v1", "reading", "setpoint"), ("v2", "reading2", "setpoint2")]),
        interface("aggregator", "Status", multiple: true, [("v1", "text", "status")]),
    ])
    static let oldAggregator = Service(id: "aggregator", name: "Aggregator", version: "0.9.0", registry: "r", interfaces: [
        interface("aggregator", "Readings in", multiple: true, [("v1", "reading", "setpoint")]),
    ])

    static func process(_ name: String, _ id: String, owner: String = alice, state: ProcessState = .running) -> ServiceProcess {
        var process = ServiceProcess(id: id, name: name, userId: owner, serviceId: name.hasPrefix("m") ? "meter" : "aggregator",
                                     serviceVersion: "1.0.0", placement: .automatic)
        process.state = state
        return process
    }

    static let m1 = process("m1", "6b0fc7eadb89fb5433e4d0a1")
    static let m2 = process("m2", "6b0fc7eadb89fb5433e4d0a2")
    static let a1 = process("a1", "6b0fc7eadb89fb5433e4d0b1")
    static let bobs = process("a9", "6b0fc7eadb89fb5433e4d0b9", owner: bob)
    static let gone = process("a8", "6b0fc7eadb89fb5433e4d0b8", state: .terminated)

    static func side(_ process: ServiceProcess, _ interface: String, _ service: Service? = nil) throws -> ConnectionSide {
        try ConnectionSide(process: process, service: service ?? (process.serviceId == "meter" ? meter : aggregator), interface: interface)
    }

    static let labels = EndpointLabels(processes: [m1, m2, a1, bobs, gone])
    /// m1.readings is connected to a1.readings-in already.
    static let existing = [Connection(endpoint1: Endpoint(processId: m1.id, interfaceId: "meter/readings"),
                                      endpoint2: Endpoint(processId: a1.id, interfaceId: "aggregator/readings-in"), port: 5000)]

    struct Refusal: Sendable, CustomTestStringConvertible {
        let first: (ServiceProcess, String)
        let second: (ServiceProcess, String)
        let existing: [Connection]
        let message: String
        var testDescription: String { message }
    }

    static let refusals: [Refusal] = [
        Refusal(first: (m1, "readings"), second: (m1, "status"), existing: [], message: "a process cannot be connected to itself (m1)"),
        Refusal(first: (m2, "readings"), second: (bobs, "readings-in"), existing: [],
                message: "m2 and a9 belong to different users; a connection joins processes of one user"),
        Refusal(first: (m2, "readings"), second: (gone, "readings-in"), existing: [], message: "process a8 is terminated"),
        Refusal(first: (m2, "readings"), second: (a1, "status"), existing: [],
                message: "m2.readings and a1.status are not compatible: no version of one sends what a version of the other receives; `defpi connection candidates m2.readings` lists what fits"),
        Refusal(first: (a1, "readings-in"), second: (m1, "readings"), existing: existing,
                message: "a1.readings-in and m1.readings are already connected (connection \(existing[0].id))"),
        Refusal(first: (m1, "readings"), second: (a1, "status"), existing: existing,
                message: "m1.readings and a1.status are not compatible: no version of one sends what a version of the other receives; `defpi connection candidates m1.readings` lists what fits"),
        Refusal(first: (m2, "status"), second: (m1, "Readings"), existing: existing,
                message: "m2.status and m1.readings are not compatible: no version of one sends what a version of the other receives; `defpi connection candidates m2.status` lists what fits"),
    ]

    @Test("each rule refuses with its own message", arguments: refusals)
    func refusal(_ case: Refusal) throws {
        #expect(throws: ConnectionError.self) {
            try ConnectionRules.check(try Self.side(`case`.first.0, `case`.first.1), try Self.side(`case`.second.0, `case`.second.1),
                                      existing: `case`.existing, labels: Self.labels.label)
        }
        do {
            _ = try ConnectionRules.check(try Self.side(`case`.first.0, `case`.first.1), try Self.side(`case`.second.0, `case`.second.1),
                                          existing: `case`.existing, labels: Self.labels.label)
        } catch let error as ConnectionError {
            #expect(error.userMessage == `case`.message)
        }
    }

    @Test("an interface that allows one connection and has it is full, named with its peer; a multiple one is not")
    func cardinality() throws {
        // A second aggregator for m1 is refused: m1.readings has a1 already.
        let a2 = Self.process("a2", "6b0fc7eadb89fb5433e4d0b2")
        let labels = EndpointLabels(processes: [Self.m1, Self.m2, Self.a1, a2])
        #expect(throws: ConnectionError.full(side: "m1.readings", connectedTo: "a1.readings-in")) {
            try ConnectionRules.check(try Self.side(Self.m1, "readings"), try Self.side(a2, "readings-in"),
                                      existing: Self.existing, labels: labels.label)
        }
        // The other way round, the single side is still the one named.
        #expect(throws: ConnectionError.full(side: "m1.readings", connectedTo: "a1.readings-in")) {
            try ConnectionRules.check(try Self.side(a2, "readings-in"), try Self.side(Self.m1, "readings"),
                                      existing: Self.existing, labels: labels.label)
        }
        // a1.readings-in allows many: a second meter connects.
        let versions = try ConnectionRules.check(try Self.side(Self.m2, "readings"), try Self.side(Self.a1, "Readings In"),
                                                 existing: Self.existing, labels: labels.label)
        #expect(versions.0.versionName == "v2" && versions.1.versionName == "v2")
    }

    @Test("the newest compatible version pair is chosen; an older partner gets the pair both speak")
    func versions() throws {
        let old = Self.process("a3", "6b0fc7eadb89fb5433e4d0b3")
        let pair = try ConnectionRules.check(try Self.side(Self.m2, "readings"), try Self.side(old, "readings-in", Self.oldAggregator),
                                             existing: [], labels: Self.labels.label)
        #expect(pair.0.versionName == "v1" && pair.1.versionName == "v1")
    }

    @Test("interfaces are named by name or the last part of the id, in any case; an unknown one lists those there are")
    func interfaceReferences() throws {
        for reference in ["readings-in", "Readings in", "READINGS-IN", "aggregator/readings-in"] {
            #expect(try Self.side(Self.a1, reference).interface.id == "aggregator/readings-in", "\(reference)")
        }
        #expect(throws: ConnectionError.noSuchInterface(process: "a1", service: "aggregator 1.0.0", reference: "power",
                                                        available: ["Readings in", "Status"])) {
            try Self.side(Self.a1, "power")
        }
        #expect(try InterfaceReference(parsing: "m1.readings") == InterfaceReference(process: "m1", interface: "readings"))
        #expect(try InterfaceReference(parsing: "m1.aggregator/readings-in.x").interface == "aggregator/readings-in.x")
        for bad in ["m1", ".readings", "m1.", ""] {
            #expect(throws: ConnectionError.badReference(bad)) { try InterfaceReference(parsing: bad) }
        }
    }

    @Test("the port is the lowest free on both processes; other processes' ports do not count")
    func ports() throws {
        func connection(_ first: ServiceProcess, _ second: ServiceProcess, _ port: Int) -> Connection {
            Connection(endpoint1: Endpoint(processId: first.id, interfaceId: "x/\(port)"),
                       endpoint2: Endpoint(processId: second.id, interfaceId: "y/\(port)"), port: port)
        }
        let others = Self.process("z1", "6b0fc7eadb89fb5433e4d0c1")
        let existing = [connection(Self.m1, others, 5000), connection(others, Self.a1, 5001), connection(Self.m2, others, 5002),
                        connection(others, others, 5003)]
        #expect(try ConnectionRules.freePort(for: [Self.m1.id, Self.a1.id], existing: existing) == 5002)
        #expect(throws: ConnectionError.noFreePort(range: 5000...5001)) {
            try ConnectionRules.freePort(for: [Self.m1.id, Self.a1.id], existing: existing, in: 5000...5001)
        }
    }

    @Test("the smaller process id listens, the other connects; the state follows both sides' reports")
    func rolesAndState() {
        var connection = Self.existing[0]
        #expect(connection.listens(Self.m1.id) && !connection.listens(Self.a1.id))
        #expect(connection.state == .pending)
        connection.endpoint1.state = .starting
        connection.endpoint2.state = .connected
        #expect(connection.state == .starting)
        connection.endpoint1.state = .connected
        #expect(connection.state == .connected)
        connection.endpoint2.state = .interrupted
        #expect(connection.state == .interrupted)
        connection.removing = true
        #expect(connection.state == .removing)
    }

    @Test("after an upgrade, a connection whose versions no longer fit is reported, saying whether others would")
    func upgradeProblems() {
        let connection = Connection(endpoint1: Endpoint(processId: Self.m1.id, interfaceId: "meter/readings", interfaceVersionName: "v1"),
                                    endpoint2: Endpoint(processId: Self.a1.id, interfaceId: "aggregator/readings-in",
                                                        interfaceVersionName: "v1"), port: 5000)
        #expect(ConnectionRules.problem(of: connection, between: (Self.m1, Self.meter), and: (Self.a1, Self.aggregator)) == nil)
        var upgraded = Self.meter
        upgraded.version = "2.0.0"
        upgraded.interfaces[0].interfaceVersions.removeFirst()  // Readings speaks v2 only.
        #expect(ConnectionRules.problem(of: connection, between: (Self.m1, upgraded), and: (Self.a1, Self.aggregator))
                == "the versions it was made with (v1/v1) no longer fit meter 2.0.0 and aggregator 1.0.0; v2/v2 would fit: remove it and connect again")
        #expect(ConnectionRules.problem(of: connection, between: (Self.m1, upgraded), and: (Self.a1, Self.oldAggregator))
                == "the versions it was made with (v1/v1) no longer fit meter 2.0.0 and aggregator 0.9.0; no versions of the two fit any more")
        upgraded.interfaces.removeFirst()
        #expect(ConnectionRules.problem(of: connection, between: (Self.m1, upgraded), and: (Self.a1, Self.aggregator))
                == "meter 2.0.0 (process m1) has no interface meter/readings")
    }

    @Test("candidates: compatible, incompatible, full and connected, each with why")
    func candidates() throws {
        let a2 = Self.process("a2", "6b0fc7eadb89fb5433e4d0b2")
        let labels = EndpointLabels(processes: [Self.m1, Self.m2, Self.a1, a2])
        let fits = { (side: ConnectionSide, candidate: ConnectionSide) in
            ConnectionCandidate(candidate, fitting: side, existing: Self.existing, labels: labels.label)
        }
        let m1 = try Self.side(Self.m1, "readings")
        #expect(fits(m1, try Self.side(Self.a1, "readings-in")).fit == .connected)
        let full = fits(m1, try Self.side(a2, "readings-in"))
        #expect(full.fit == .full && full.reason == "m1.readings allows one connection and is already connected to a1.readings-in")
        #expect(fits(m1, try Self.side(a2, "status")).fit == .incompatible)
        let free = fits(try Self.side(Self.m2, "readings"), try Self.side(a2, "readings-in"))
        #expect(free.fit == .compatible && free.reason == nil && free.label == "a2.readings-in")
    }

    @Test("a connection clashes with another holding a single-connection end it needs, or its port at one of its processes")
    func clashes() {
        let a2 = Self.process("a2", "6b0fc7eadb89fb5433e4d0b2")
        func connection(_ first: ServiceProcess, _ firstInterface: String, _ second: ServiceProcess, _ secondInterface: String,
                        port: Int) -> Connection {
            Connection(endpoint1: Endpoint(processId: first.id, interfaceId: firstInterface),
                       endpoint2: Endpoint(processId: second.id, interfaceId: secondInterface), port: port)
        }
        let mine = connection(Self.m1, "meter/readings", Self.a1, "aggregator/readings-in", port: 5000)
        let single = [mine.endpoint1]  // m1.readings allows one connection; a1.readings-in several.
        let cases: [(Connection, Bool, String)] = [
            (connection(Self.m1, "meter/readings", a2, "aggregator/readings-in", port: 5001), true, "m1.readings again"),
            (connection(Self.m2, "meter/readings", Self.a1, "aggregator/readings-in", port: 5001), false, "a1.readings-in takes several"),
            (connection(Self.m2, "meter/readings", Self.a1, "aggregator/readings-in", port: 5000), true, "a1's port 5000 again"),
            (connection(Self.m1, "meter/status", a2, "aggregator/status", port: 5000), true, "m1's port 5000 again"),
            (connection(Self.m2, "meter/status", a2, "aggregator/status", port: 5000), false, "port 5000 of other processes"),
        ]
        for (other, expected, why) in cases {
            #expect(ConnectionRules.clashes(mine, single: single, with: [other]) == expected, "\(why)")
        }
        #expect(!ConnectionRules.clashes(mine, single: single, with: [mine]), "a connection does not clash with itself")
    }
}
