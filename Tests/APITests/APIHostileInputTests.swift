import DefpiAPI
import DefpiTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Engine

/// What any signed-in user, or a page of another site, may send: it never takes the server down,
/// never holds its threads, and never changes anything it should not.
@Suite("REST API hostile input", .timeLimit(.minutes(3)))
struct APIHostileInputTests {
    /// Paging and filters as an attacker writes them.
    static let hostileQueries = [
        "_page=2&_perPage=9223372036854775807", "_page=9223372036854775807&_perPage=9223372036854775807",
        "_page=9223372036854775807&_perPage=2", "_page=99999999999999999999999999&_perPage=3", "_page=0&_perPage=0",
        "_page=1&_perPage=0", "_page=-9223372036854775808", "_perPage=-1", "_page=", "_page=1e3", "_page=%00",
        "_sortField=%00", "_sortField=" + String(repeating: "x", count: 5000), "_sortDir=", "_sortDir=desc",
        "_filters=%7B%22name%22%3A%22%2F(a%2B)%2Bb%2F%22%7D", "_filters=%7B%22name%22%3A%22%2F((a%7Cb)*c)%2B%24%2F%22%7D",
        "_filters=%7B%22name%22%3A%5B%22x%22%5D%7D", "_filters=%7B%22ids%5B%5D%22%3A%22x%22%7D", "_filters=%5B1%2C2%5D",
        "_filters=%7B%22name%22%3A%22%2F%5B%2F%22%7D", "_filters=%7B%22name%22%3A%7B%22a%22%3A1%7D%7D",
        "_filters=" + String(repeating: "%7B%22a%22%3A", count: 600), "_page=2&_perPage=1&_sortField=name&_sortDir=DESC",
    ]

    /// Every GET route, its parameters filled with ids of alice's things (or made-up ones).
    static func getPaths(_ bed: APIBed) -> [String] {
        let ids = ["id": bed.processes["alice"]![0].id, "username": "alice"]
        return RESTAPI(engine: bed.engine).router().routes.filter { $0.method == .get }.map { route in
            "/" + route.path.description.split(separator: "/").map { part in
                part.hasPrefix(":") ? ids[String(part.dropFirst())] ?? ObjectID.generate() : String(part)
            }.joined(separator: "/")
        }
    }

    @Test("every GET route × hostile paging and filters × alice and root: an answer, never a 5xx or a trap")
    func everyRoute() async throws {
        let bed = try await APIBed()
        var random = SeededGenerator(seed: 20261207)
        let junk = (0..<40).map { _ in
            ["_page", "_perPage", "_sortField", "_sortDir", "_filters"].randomElement(using: &random)! + "="
                + String((0..<Int.random(in: 0...30, using: &random)).map { _ in
                    Array("0123456789-+%7B%22/()*+?[]|$^aZ,:").randomElement(using: &random)! })
        }
        try await bed.withClient { client in
            for path in Self.getPaths(bed) {
                for query in Self.hostileQueries + junk {
                    for who in [APIBed.Who.alice, .root] {
                        try await client.execute(uri: path + "?" + query, method: .get, headers: who.headers) { response in
                            #expect(response.status.code < 500 || response.status == .serviceUnavailable,
                                    "\(who) \(path)?\(query.prefix(80)): \(response.status) \(String(buffer: response.body).prefix(200))")
                        }
                    }
                }
            }
        }
    }

    @Test("every route that takes a body × seeded hostile bodies and queries × alice and root: never a 5xx or a trap")
    func everyBody() async throws {
        let bed = try await APIBed()
        let ids = ["id": bed.processes["alice"]![0].id, "username": "alice"]
        let routes = RESTAPI(engine: bed.engine).router().routes.filter { [.post, .put, .delete].contains($0.method) }.map { route in
            (route.method, "/" + route.path.description.split(separator: "/").map { part in
                part.hasPrefix(":") ? ids[String(part.dropFirst())] ?? ObjectID.generate() : String(part)
            }.joined(separator: "/"))
        }
        var random = SeededGenerator(seed: 20261208)
        let keys = ["username", "password", "currentPassword", "serviceId", "serviceVersion", "name", "email", "admin", "nodeId",
                    "nodePoolId", "privateNodeId", "userId", "endpoint1", "endpoint2", "configuration", "maxMemoryBytes", "maxNanoCPUs",
                    "mountPoints", "exposePorts", "maxProcesses", "defaultMemoryBytes", "force", "id", "revision"]
        let bodies = (0..<60).map { _ in APIInputTests.randomObject(using: &random, keys: keys) }
            + ["", "null", "[]", String(repeating: "{\"a\":", count: 400), #"{"mountPoints":[{"source":"/","target":"/","type":"bind"}]}"#,
               #"{"exposePorts":[{"internal":-1,"external":99999999999999}]}"#, #"{"maxMemoryBytes":9223372036854775807}"#]
        try await bed.withClient { client in
            for (method, path) in routes {
                for (index, body) in bodies.enumerated() {
                    let who = index % 2 == 0 ? APIBed.Who.alice : .root
                    let query = index % 5 == 0 ? "?force=maybe&tail=-1" : ""
                    try await client.execute(uri: path + query, method: method, headers: who.headers, body: ByteBuffer(string: body)) {
                        #expect($0.status.code < 500 || $0.status == .serviceUnavailable,
                                "\(who) \(method) \(path)\(query) \(body.prefix(80)): \($0.status) \(String(buffer: $0.body).prefix(200))")
                    }
                }
            }
        }
    }

    @Test("paging saturates: a page past the end is empty, with the total; page or size 0 lists all")
    func paging() async throws {
        let bed = try await APIBed()
        // The query, then how many items it lists of three (users) and of two (changes).
        let cases: [(String, Int, Int)] = [
            ("_page=2&_perPage=9223372036854775807", 0, 0), ("_page=1&_perPage=9223372036854775807", 3, 2),
            ("_page=9223372036854775807&_perPage=9223372036854775807", 0, 0), ("_page=99999999999999999999&_perPage=1", 0, 0),
            ("_page=2&_perPage=2", 1, 0), ("_page=0&_perPage=0", 3, 2), ("_page=3&_perPage=0", 3, 2), ("_page=2&_perPage=1", 1, 1),
        ]
        try await bed.withClient { client in
            for (query, users, changes) in cases {
                for (path, count, total) in [("/user", users, 3), ("/pendingchange", changes, 2)] {
                    try await client.execute(uri: "\(path)?\(query)", method: .get, headers: APIBed.Who.root.headers) { response in
                        let items = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [Any]
                        #expect(response.status == .ok && items?.count == count, "\(path)?\(query): \(String(buffer: response.body))")
                        #expect(response.headers[HTTPField.Name("X-Total-Count")!] == "\(total)", "\(path)?\(query)")
                    }
                }
            }
        }
    }

    /// The pools whose name matches `/pattern/`.
    static func filter(_ pattern: String) -> String {
        "/nodepool?_filters=" + "{\"name\":\"/\(pattern)/\"}".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    }

    @Test("a pattern that backtracks exponentially elsewhere answers at once, and other requests go on meanwhile")
    func patternFilter() async throws {
        let bed = try await APIBed()
        _ = try await bed.engine.pools.create(named: String(repeating: "a", count: 47), by: .localOperator())
        try await bed.withClient { client in
            let clock = ContinuousClock()
            let elapsed = try await clock.measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            try await client.execute(uri: Self.filter("(a+)+b"), method: .get, headers: APIBed.Who.root.headers) { response in
                                #expect(response.status == .ok && String(buffer: response.body) == "[]")
                            }
                        }
                    }
                    group.addTask {
                        try await client.execute(uri: "/diag", method: .get) { #expect($0.status == .ok) }
                    }
                    try await group.waitForAll()
                }
            }
            // Before the linear matcher, one such request did not finish in five minutes; a loaded
            // test run stretches the answer's seconds, so the bound is loose.
            #expect(elapsed < .seconds(15), "\(elapsed)")
            // The original UI's substring search, and a real expression.
            try await client.execute(uri: Self.filter("aaa"), method: .get, headers: APIBed.Who.root.headers) { response in
                #expect(String(buffer: response.body).contains(String(repeating: "a", count: 47)))
            }
            try await client.execute(uri: Self.filter("^fi.l[d]$"), method: .get, headers: APIBed.Who.root.headers) { response in
                #expect(String(buffer: response.body).contains("\"field\""))
            }
            try await client.execute(uri: Self.filter("a{47}"), method: .get, headers: APIBed.Who.root.headers) { response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("counted repetition"))
            }
        }
    }

    @Test("a page of another site cannot change anything: bodies only as JSON (415), other origins refused (403)")
    func crossSite() async throws {
        let bed = try await APIBed()
        let before = try await bed.engine.store.inventory().counts
        let basic = APIBed.Who.root.headers[.authorization]!
        let pool = ByteBuffer(string: #"{"name":"lab"}"#)
        let user = ByteBuffer(string: #"{"username":"mallory","password":"a-long-password","admin":true}"#)
        try await bed.withClient { client in
            for contentType in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil] {
                var headers: HTTPFields = [.authorization: basic]
                if let contentType { headers[.contentType] = contentType }
                for (path, body) in [("/nodepool", pool), ("/user", user)] {
                    try await client.execute(uri: path, method: .post, headers: headers, body: body) { response in
                        #expect(response.status == .unsupportedMediaType, "\(contentType ?? "none") \(path): \(response.status)")
                        #expect(String(buffer: response.body).contains("application/json"))
                    }
                }
            }
            let fromElsewhere: HTTPFields = [.authorization: basic, .contentType: "application/json", .origin: "https://evil.example"]
            try await client.execute(uri: "/user", method: .post, headers: fromElsewhere, body: user) { response in
                #expect(response.status == .forbidden && String(buffer: response.body).contains("--cors-origin"))
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            try await client.execute(uri: "/user", method: .options,
                                     headers: [.origin: "https://evil.example", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.status == .forbidden && response.headers[.accessControlAllowOrigin] == nil)
            }
            try await client.execute(uri: "/user", method: .get, headers: fromElsewhere) { response in
                #expect(response.status == .forbidden && !String(buffer: response.body).contains("alice"))
            }
        }
        #expect(try await bed.engine.store.inventory().counts == before)
    }

    @Test("an allowed origin gets CORS with credentials for itself, never a wildcard")
    func allowedOrigin() async throws {
        let bed = try await APIBed()
        let origin = "https://dash.example.org"
        let application = Application(router: RESTAPI(engine: bed.engine, allowedOrigins: [origin]).router())
        try await application.test(.router) { client in
            try await client.execute(uri: "/user", method: .options, headers: [.origin: origin, .accessControlRequestMethod: "POST"]) {
                #expect($0.headers[.accessControlAllowOrigin] == origin && $0.headers[.accessControlAllowCredentials] == "true")
            }
            var headers = APIBed.Who.root.headers
            headers[.origin] = origin
            try await client.execute(uri: "/user", method: .get, headers: headers) { response in
                #expect(response.status == .ok && response.headers[.accessControlAllowOrigin] == origin)
                #expect(String(buffer: response.body).contains("alice"))
            }
            headers[.origin] = "https://dash.example.org.evil.example"
            try await client.execute(uri: "/user", method: .get, headers: headers) { #expect($0.status == .forbidden) }
        }
    }
}
