/// The file `defpi service publish` puts next to a service's executable in its image: the
/// service's interfaces with their versions' hashes, as JSON (the same as the image label
/// `org.flexiblepower.interfaces`). ServiceKit reads it to know which hashes its interfaces have.
public enum InterfacesFile {
    public static let name = "defpi-interfaces.json"

    /// One interface as the file describes it (the fields ServiceKit needs).
    public struct Interface: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var interfaceVersions: [Version]

        public struct Version: Codable, Sendable, Equatable {
            public var versionName: String
            public var receivesHash: String
            public var sendsHash: String
        }
    }
}
