import DefpiAPI
import DefpiTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Engine

/// Every route of the REST API asked by nobody, by alice, by bob and by an admin: each gets the
/// status the environments call for, and no answer to one user holds anything of the other's.
@Suite("REST API access", .timeLimit(.minutes(5)))
struct APIAccessTests {
    typealias Who = APIBed.Who

    /// One request and its expected status per caller.
    struct Case: Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method
        var path: String
        var body: String?
        var expected: [Who: Int]
        var description: String { "\(method) \(path)" }
    }

    /// Expected statuses: anonymous 401 unless said, then alice, bob, root.
    static func expect(_ alice: Int, _ bob: Int, _ root: Int, anonymous: Int = 401) -> [Who: Int] {
        [.anonymous: anonymous, .alice: alice, .bob: bob, .root: root]
    }

    /// The matrix, on the bed's ids. Reads first; what changes state is asked only by those who
    /// are refused, except where the change is harmless to the rest of the matrix.
    static func cases(_ bed: APIBed) -> [Case] {
        let bobsProcess = bed.processes["bob"]![0].id
        let alicesConnection = bed.connection["alice"]!.id
        let alicesChange = bed.change["alice"]!.id
        let bobsNode = bed.privateNode["bob"]!.id
        return [
            Case(method: .get, path: "/diag", expected: expect(200, 200, 200, anonymous: 200)),
            Case(method: .get, path: "/openapi.json", expected: expect(200, 200, 200, anonymous: 200)),
            Case(method: .get, path: "/health", expected: expect(403, 403, 200)),
            Case(method: .get, path: "/user", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/user/\(bed.bob.id)", expected: expect(404, 200, 200)),
            Case(method: .get, path: "/user/by_username/bob", expected: expect(404, 200, 200)),
            Case(method: .put, path: "/user/\(bed.alice.id)", body: #"{"admin":true}"#, expected: expect(403, 404, 200)),
            Case(method: .put, path: "/user/\(bed.bob.id)", body: #"{"email":"x@example.org"}"#, expected: expect(404, 200, 200)),
            Case(method: .post, path: "/user", body: #"{"username":"mallory","password":"a-long-password"}"#,
                 expected: expect(403, 403, 201)),
            Case(method: .delete, path: "/user/\(bed.bob.id)", expected: expect(403, 403, 409)),
            Case(method: .get, path: "/user/\(bed.bob.id)/quota", expected: expect(404, 200, 200)),
            Case(method: .put, path: "/user/\(bed.bob.id)/quota", body: #"{"maxProcesses":5}"#, expected: expect(403, 403, 200)),
            Case(method: .get, path: "/unidentifiednode", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/unidentifiednode/\(bed.unidentifiedNode.id)", expected: expect(404, 404, 200)),
            Case(method: .get, path: "/publicnode", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/publicnode/\(bed.publicNode.id)", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/privatenode", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/privatenode/\(bobsNode)", expected: expect(404, 200, 200)),
            Case(method: .put, path: "/privatenode/\(bobsNode)", body: #"{"name":"renamed"}"#, expected: expect(404, 403, 200)),
            // Bob's processes are placed on it: not even an admin takes it from under them.
            Case(method: .delete, path: "/privatenode/\(bobsNode)", expected: expect(404, 403, 409)),
            Case(method: .post, path: "/publicnode", body: #"{"nodeId":"d-fresh","nodePoolId":"field"}"#, expected: expect(403, 403, 201)),
            Case(method: .get, path: "/nodepool", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/nodepool/\(bed.pool.id)", expected: expect(200, 200, 200)),
            Case(method: .post, path: "/nodepool", body: #"{"name":"lab"}"#, expected: expect(403, 403, 201)),
            Case(method: .put, path: "/nodepool/\(bed.pool.id)", body: #"{"name":"field-2"}"#, expected: expect(403, 403, 200)),
            // The catalogue is everyone's to read (an empty one: this bed's own registry prefix).
            Case(method: .get, path: "/service", expected: TestBed.registryURL == nil ? expect(503, 503, 503) : expect(200, 200, 200)),
            Case(method: .get, path: "/service/meter", expected: TestBed.registryURL == nil ? expect(503, 503, 503) : expect(404, 404, 404)),
            Case(method: .get, path: "/interface", expected: TestBed.registryURL == nil ? expect(503, 503, 503) : expect(200, 200, 200)),
            Case(method: .get, path: "/process", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/process/\(bobsProcess)", expected: expect(404, 200, 200)),
            Case(method: .get, path: "/process/\(bobsProcess)/history", expected: expect(404, 200, 200)),
            Case(method: .put, path: "/process/\(bobsProcess)", body: #"{"configuration":[{"key":"A","value":"1"}]}"#,
                 expected: expect(404, 200, 200)),
            Case(method: .put, path: "/process/\(bobsProcess)", body: "{\"userId\":\"\(bed.alice.id)\"}", expected: expect(404, 400, 400)),
            Case(method: .delete, path: "/process/\(bobsProcess)", expected: expect(404, 204, 204)),
            Case(method: .get, path: "/connection", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/connection/\(alicesConnection)", expected: expect(200, 404, 200)),
            Case(method: .delete, path: "/connection/\(alicesConnection)", expected: expect(204, 404, 204)),
            Case(method: .get, path: "/pendingchange", expected: expect(200, 200, 200)),
            Case(method: .get, path: "/pendingchange/\(alicesChange)", expected: expect(200, 404, 200)),
            Case(method: .post, path: "/pendingchange/\(alicesChange)/cancel", expected: expect(200, 404, 200)),
            Case(method: .get, path: "/nowhere", expected: expect(404, 404, 404, anonymous: 404)),
        ]
    }

    /// What the store holds, to the revision: every entity but the audit trail (which records
    /// refusals' neighbours, never their changes) as its id and revision, per collection.
    static func snapshot(_ store: any Store) async throws -> [String: [String: Int]] {
        func revisions<E: Entity>(_ type: E.Type) async throws -> [String: Int] {
            Dictionary(uniqueKeysWithValues: try await store.all(type).map { ($0.id, $0.revision) })
        }
        return ["users": try await revisions(User.self), "nodes": try await revisions(Node.self),
                "pools": try await revisions(NodePool.self), "processes": try await revisions(ServiceProcess.self),
                "connections": try await revisions(Connection.self), "changes": try await revisions(PendingChange.self),
                "quotas": try await revisions(UserQuota.self), "tokens": try await revisions(AccessToken.self)]
    }

    /// Something of `user`'s own that a list at `path` must show them: a list that hides the
    /// others' items by showing nothing would pass the matrix otherwise.
    static func ownItem(of user: String, in path: String, _ bed: APIBed) -> String? {
        switch path {
        case "/user": return "\"username\":\"\(user)\""
        case "/privatenode": return "\(user)-secret-node"
        case "/process": return "\(user)-secret-process-1"
        case "/connection": return bed.connection[user]?.id
        case "/pendingchange": return "\(user)-secret-change"
        default: return nil
        }
    }

    @Test("every route × {anonymous, alice, bob, admin}: the expected status, JSON errors, nothing of the other user", arguments: Who.allCases)
    func matrix(who: Who) async throws {
        let bed = try await APIBed()
        let others = who == .alice ? bed.secrets(of: "bob") : who == .bob ? bed.secrets(of: "alice") : []
        let store = bed.engine.store
        try await bed.withClient { client in
            for test in Self.cases(bed) {
                let before = test.method == .get ? nil : try await Self.snapshot(store)
                try await client.execute(uri: test.path, method: test.method, headers: who.headers,
                                         body: test.body.map { ByteBuffer(string: $0) }) { response in
                    let body = String(buffer: response.body)
                    #expect(Int(response.status.code) == test.expected[who], "\(who) \(test): \(body)")
                    if let before, response.status.code >= 400 {
                        let after = try await Self.snapshot(store)
                        #expect(after == before, "\(who) \(test) was refused (\(response.status.code)) yet changed the store")
                    }
                    if test.method == .get, who == .alice || who == .bob, let own = Self.ownItem(of: who.rawValue, in: test.path, bed) {
                        #expect(body.contains(own), "\(who) \(test) lists nothing of their own (\(own))")
                    }
                    if response.status.code >= 400 {
                        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(who) \(test)")
                        #expect(body.contains(#""message""#), "\(who) \(test): \(body)")
                    }
                    // An error may repeat what the request itself said, and the OpenAPI document names the fields.
                    let asked = test.path + (test.body ?? "")
                    for secret in others where !asked.contains(secret) {
                        #expect(!body.contains(secret), "\(who) \(test) shows \(secret): \(body)")
                    }
                    if test.path != "/openapi.json" {
                        #expect(!body.contains("passwordHash") && !body.contains("\"token\""), "\(who) \(test): \(body)")
                    }
                    for process in bed.processes.values.flatMap({ $0 }) {
                        #expect(!body.contains(process.token), "\(who) \(test) shows a process token")
                    }
                }
            }
        }
    }
}
