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
    /// SHA-256 of the password hash the user signed in with: the token counts only while the
    /// user's hash is still that one, so a new password ends it with the one write that stores
    /// the password (no second write to lose in a crash). A token without it counts for nothing.
    public var passwordStamp: String?

    public init(id: String = ObjectID.generate(), revision: Int = 0, userId: String, tokenHash: String, created: Date,
                expires: Date, source: String? = nil, passwordStamp: String? = nil) {
        self.id = id
        self.revision = revision
        self.userId = userId
        self.tokenHash = tokenHash
        self.created = created
        self.expires = expires
        self.source = source
        self.passwordStamp = passwordStamp
    }
}
