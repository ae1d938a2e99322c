import DefpiAPI
import DefpiTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Engine

/// Bad request bodies get a 400 that says what is wrong, never a 500, and change nothing.
@Suite("REST API input", .timeLimit(.minutes(5)))
struct APIInputTests {
    static let admin = APIBed.Who.root.headers

    /// Bodies that are wrong in every way a client gets them wrong.
    static let badBodies: [String] = [
        "", "not json", "[]", "[1,2]", "\"text\"", "12", "null", "{", "{\"a\":}", "{}",
        #"{"username":5,"password":"a-long-password"}"#,
        #"{"username":"x","password":"a-long-password","surprise":true}"#,
        #"{"serviceId":["meter"]}"#, #"{"serviceId":"meter","maxMemoryBytes":1e400}"#,
        #"{"serviceId":"meter","maxMemoryBytes":"lots"}"#, #"{"serviceId":"meter","configuration":{"a":"b"}}"#,
        #"{"serviceId":"meter","configuration":[{"key":1}]}"#, #"{"serviceId":"meter","nodePoolId":"a","privateNodeId":"b"}"#,
        #"{"serviceId":"meter","debuggingPort":5005}"#, #"{"endpoint1":{"processId":"x"},"endpoint2":null}"#,
        #"{"name":""}"#, #"{"name":{"nested":{"deeper":[1,[2,[3]]]}}}"#,
        "{\"name\":\"" + String(repeating: "n", count: 100_000) + "\"}",
        String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000),
    ]

    static let targets: [(HTTPRequest.Method, String)] = [
        (.post, "/user"), (.post, "/process"), (.post, "/connection"), (.post, "/nodepool"), (.post, "/publicnode"),
        (.post, "/privatenode"), (.post, "/login"),
    ]

    @Test("each bad body on each route that takes one: 400 with a JSON message, nothing stored")
    func badBodies() async throws {
        let bed = try await APIBed()
        let before = try await bed.engine.store.inventory().counts
        try await bed.withClient { client in
            for (method, path) in Self.targets {
                for body in Self.badBodies {
                    // Credentials in the header would sign in on /login whatever the body.
                    let headers = path == "/login" ? APIBed.json : Self.admin
                    try await client.execute(uri: path, method: method, headers: headers, body: ByteBuffer(string: body)) { response in
                        let text = String(buffer: response.body)
                        #expect(response.status == .badRequest, "\(method) \(path) \(body.prefix(80)): \(response.status) \(text)")
                        #expect(text.contains(#""message""#))
                    }
                }
            }
        }
        #expect(try await bed.engine.store.inventory().counts == before)
    }

    @Test("random JSON, seeded: never a 500 (a 503 only where the registry, down here, would be read)")
    func randomBodies() async throws {
        let bed = try await APIBed()
        var random = SeededGenerator(seed: 20261203)
        let bodies = (0..<400).map { _ in
            Self.randomObject(using: &random, keys: ["username", "password", "serviceId", "name", "email", "admin", "nodeId",
                                                      "nodePoolId", "userId", "endpoint1", "configuration", "maxMemoryBytes",
                                                      "serviceVersion"])
        }
        try await bed.withClient { client in
            for (round, body) in bodies.enumerated() {
                let (method, path) = Self.targets[round % Self.targets.count]
                try await client.execute(uri: path, method: method, headers: Self.admin, body: ByteBuffer(string: body)) { response in
                    let text = String(buffer: response.body)
                    #expect(response.status.code < 500 || (response.status == .serviceUnavailable && text.contains("unavailable")),
                            "\(method) \(path) \(body): \(response.status) \(text)")
                }
            }
        }
    }

    @Test("list parameters out of range or unknown are refused with their name")
    func listParameters() async throws {
        let bed = try await APIBed()
        try await bed.withClient { client in
            for query in ["_page=-1", "_perPage=abc", "_sortDir=UP", "_filters=notjson", "_filters=%7B%22token%22%3A%22x%22%7D",
                          "_sortField=nothing", "_filters=%7B%22name%22%3A%22%2F(%2F%22%7D"] {
                try await client.execute(uri: "/process?\(query)", method: .get, headers: Self.admin) { response in
                    #expect(response.status == .badRequest, "\(query): \(String(buffer: response.body))")
                }
            }
        }
    }

    static func randomObject(using random: inout SeededGenerator, keys: [String]) -> String {
        let fields = (0..<Int.random(in: 0...4, using: &random)).map { _ in
            "\"\(keys.randomElement(using: &random)!)\":\(randomValue(using: &random, depth: 0))"
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func randomValue(using random: inout SeededGenerator, depth: Int) -> String {
        switch Int.random(in: 0...(depth > 2 ? 5 : 7), using: &random) {
        case 0: return "null"
        case 1: return Bool.random(using: &random) ? "true" : "false"
        case 2: return "\(Int64.random(in: .min ... .max, using: &random))"
        case 3: return ["1e308", "-0", "3.5", "1e999", "0.000001"].randomElement(using: &random)!
        case 4: return "\"\(["", "meter", "alice", "field", "x/y", "../..", "\\u0000", String(repeating: "z", count: 300)].randomElement(using: &random)!)\""
        case 5: return "\"\(ObjectID.generate())\""
        case 6: return "[" + (0..<Int.random(in: 0...3, using: &random)).map { _ in randomValue(using: &random, depth: depth + 1) }.joined(separator: ",") + "]"
        default: return randomObject(using: &random, keys: ["processId", "interfaceId", "key", "value", "a"])
        }
    }
}

/// A small deterministic generator (SplitMix64), so a failing round can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
