import Engine
import Foundation
import Hummingbird
import NIOCore

/// What a REST request carries from the middleware to its route: who asks and from where.
public struct APIContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The signed-in caller (set by `SignInMiddleware`); nil for an anonymous request.
    public var caller: Caller?
    /// The token the request signed in with, for signing out.
    var bearerToken: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Request bodies are small: a megabyte is more than any resource needs (413 beyond).
    public var maxUploadSize: Int { 1 << 20 }

    /// The model's JSON: dates as epoch milliseconds.
    public var requestDecoder: JSONDecoder { ModelCoding.decoder() }

    /// The caller, or a refusal that asks to sign in.
    func signedIn() throws -> Caller {
        guard let caller else { throw SignInError.signInRequired }
        return caller
    }

    /// Where the request came from, which scopes the sign-in throttle.
    var source: String { remoteAddress?.ipAddress ?? "local" }
}
