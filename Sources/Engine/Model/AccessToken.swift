import Foundation

/// A bearer token a user got by signing in (`POST /login`). Only its SHA-256 is stored, so a
/// copy of the store signs no one in; every engine on the store accepts it until it expires or
/// is revoked (signing out, a password change, the user's removal).
public struct AccessToken: Entity {
    public static let collection = EntityCollection.accessToken

    public var id: String
    public var revision: Int
    public var userId: String
    /// SHA-256 of the token, lower-case hex.
    public var tokenHash: String
    public var created: Date
    public var expires: Date
    /// Where the sign-in came from (an address), for the user's list of sign-ins.
    public var source: String?

    public init(id: String = ObjectID.generate(), revision: Int = 0, userId: String, tokenHash: String, created: Date,
                expires: Date, source: String? = nil) {
        self.id = id
        self.revision = revision
        self.userId = userId
        self.tokenHash = tokenHash
        self.created = created
        self.expires = expires
        self.source = source
    }
}
