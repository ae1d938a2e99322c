/// Someone who signs in to defpi. Admins manage nodes, pools and users; a user sees and touches
/// only their own environment.
public struct User: Entity {
    public static let collection = EntityCollection.user

    public var id: String
    public var revision: Int
    /// Unique among users; cannot change after creation.
    public var username: String
    /// The stored password hash; never the password itself.
    public var passwordHash: String?
    /// Passed to the user's processes as `USER_EMAIL`.
    public var email: String?
    public var admin: Bool

    public init(id: String = ObjectID.generate(), revision: Int = 0, username: String, passwordHash: String? = nil,
                email: String? = nil, admin: Bool = false) {
        self.id = id
        self.revision = revision
        self.username = username
        self.passwordHash = passwordHash
        self.email = email
        self.admin = admin
    }
}
