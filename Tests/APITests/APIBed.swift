import DefpiAPI
import DefpiTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting

@testable import Engine

/// The REST API in front of an Engine on a store holding two users' environments side by side
/// (`TwoEnvironments`).
@dynamicMemberLookup
struct APIBed {
    let engine: Engine
    let world: TwoEnvironments
    static let password = TwoEnvironments.password
    static let json: HTTPFields = [.contentType: "application/json"]

    init() async throws {
        world = try await TwoEnvironments()
        engine = try await Engine(settings: TwoEnvironments.settings(world.location))
    }

    subscript<Value>(dynamicMember path: KeyPath<TwoEnvironments, Value>) -> Value { world[keyPath: path] }

    func secrets(of username: String) -> [String] { world.secrets(of: username) }

    /// Who asks: nobody, or a user by Basic credentials.
    enum Who: String, CaseIterable, CustomStringConvertible, Sendable {
        case anonymous, alice, bob, root
        var description: String { rawValue }

        /// Its credentials, and the JSON content type every request with a body must declare.
        var headers: HTTPFields {
            guard self != .anonymous else { return APIBed.json }
            return [.authorization: "Basic " + Data("\(rawValue):\(APIBed.password)".utf8).base64EncodedString(),
                    .contentType: "application/json"]
        }
    }

    /// Runs `body` with a client of the API on this bed.
    func withClient(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let application = Application(router: RESTAPI(engine: engine).router())
        try await application.test(.router) { client in try await body(client) }
    }
}
