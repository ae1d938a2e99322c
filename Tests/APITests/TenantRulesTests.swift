import DefpiAPI
import DefpiTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Engine

/// A tenant's account and private nodes stay theirs: a private node is not taken from under
/// its owner's processes, and a borrowed session cannot change its user's password.
@Suite("Tenant rules", .timeLimit(.minutes(3)))
struct TenantRulesTests {
    @Test("a private node is neither declassified, made public nor given away while its owner's processes are placed there")
    func privateNodeKept() async throws {
        let bed = try await APIBed()
        let node = bed.privateNode["alice"]!.id
        let nodes = bed.engine.nodes
        let admin = Caller.localOperator()
        let before = try await bed.engine.store.fetch(Node.self, id: node)
        let changes = try await bed.engine.store.inventory().counts
        for attempt in [{ try await nodes.declassify(node, by: admin) }, { try await nodes.classifyPublic(node, pool: "field", by: admin) },
                        { try await nodes.classifyPrivate(node, owner: "bob", by: admin) }] as [@Sendable () async throws -> PendingChange] {
            do {
                _ = try await attempt()
                Issue.record("alice's node was taken from under her processes")
            } catch let error as NodeError {
                #expect(error.userMessage.contains("alice-secret-process-1, alice-secret-process-2") && error.failureKind == .conflict,
                        "\(error.userMessage)")
            }
        }
        #expect(try await bed.engine.store.fetch(Node.self, id: node) == before)
        #expect(try await bed.engine.store.inventory().counts == changes, "a refused change queued something")
        // Renaming it, or classifying it private to alice again, leaves it hers: allowed.
        _ = try await nodes.rename(node, to: "alice-renamed", by: admin)
    }

    @Test("your own password needs the current one (400 without, 403 when wrong); an admin resets another's without it")
    func ownPassword() async throws {
        let bed = try await APIBed()
        let alice = bed.alice.id
        try await bed.withClient { client in
            let cases: [(APIBed.Who, String, String, HTTPResponse.Status)] = [
                (.alice, alice, #"{"password":"a-newer-password"}"#, .badRequest),
                (.alice, alice, #"{"password":"a-newer-password","currentPassword":"not-it-at-all"}"#, .forbidden),
                (.alice, alice, #"{"password":"a-newer-password","currentPassword":"a-long-password"}"#, .ok),
                (.root, bed.bob.id, #"{"password":"reset-by-root"}"#, .ok),
                (.root, bed.root.id, #"{"password":"a-newer-password"}"#, .badRequest),
            ]
            for (who, id, body, status) in cases {
                try await client.execute(uri: "/user/\(id)", method: .put, headers: who.headers, body: ByteBuffer(string: body)) {
                    #expect($0.status == status, "\(who) \(body): \(String(buffer: $0.body))")
                }
            }
        }
        let signIn = bed.engine.signIn
        #expect(try await signIn.caller(username: "alice", password: "a-newer-password", source: "t").name == "alice")
        #expect(try await signIn.caller(username: "bob", password: "reset-by-root", source: "t").name == "bob")
    }
}
