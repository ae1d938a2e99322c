import Foundation

/// A deployable service: one version of an image in the registry, described by its dEF-Pi labels.
/// Services are read from the registry, never stored.
public struct Service: Codable, Sendable, Hashable {
    /// The image name without the repository prefix, e.g. `meter`.
    public var id: String
    /// From the label `org.flexiblepower.serviceName`.
    public var name: String
    /// The version (tag group), e.g. `1.2.0`.
    public var version: String
    /// The registry the swarm nodes pull from.
    public var registry: String
    /// The repository prefix, `services` by default.
    public var repository: String
    public var created: Date?
    /// The concrete tag per architecture.
    public var tags: [Architecture: String]
    /// From the label `org.flexiblepower.interfaces`.
    public var interfaces: [Interface]
    /// Why this version cannot be used as it is (labels missing or malformed, image unreadable);
    /// nil for a sound dEF-Pi service image.
    public var problem: String?

    public init(id: String, name: String, version: String, registry: String, repository: String = "services",
                created: Date? = nil, tags: [Architecture: String] = [:], interfaces: [Interface] = [],
                problem: String? = nil) {
        self.id = id
        self.name = name
        self.version = version
        self.registry = registry
        self.repository = repository
        self.created = created
        self.tags = tags
        self.interfaces = interfaces
        self.problem = problem
    }

    /// The architectures this version has an image for, in a stable order.
    public var architectures: [Architecture] {
        Architecture.allCases.filter { tags[$0] != nil }
    }

    /// The image reference a node of `architecture` pulls, if there is one.
    public func image(for architecture: Architecture) -> String? {
        tags[architecture].map { "\(registry)/\(repository)/\(id):\($0)" }
    }
}

/// A typed channel a service offers to other processes, with the versions it speaks.
public struct Interface: Codable, Sendable, Hashable {
    /// `<serviceId>/<name lower-cased, spaces as dashes>` by convention.
    public var id: String
    public var name: String
    public var serviceId: String
    public var interfaceVersions: [InterfaceVersion]
    /// Cardinality: whether more than one connection may use this interface of one process.
    public var allowMultiple: Bool
    /// Whether defpi connects it by itself to compatible processes of the same user.
    public var autoConnect: Bool

    public init(id: String, name: String, serviceId: String, interfaceVersions: [InterfaceVersion],
                allowMultiple: Bool = false, autoConnect: Bool = false) {
        self.id = id
        self.name = name
        self.serviceId = serviceId
        self.interfaceVersions = interfaceVersions
        self.allowMultiple = allowMultiple
        self.autoConnect = autoConnect
    }

    /// Two interfaces can be connected when any pair of their versions is compatible.
    public func isCompatible(with other: Interface) -> Bool {
        bestCompatibleVersions(with: other) != nil
    }

    /// The compatible version pair to connect with: this side's highest version that has a
    /// compatible partner, and that partner's highest compatible version.
    public func bestCompatibleVersions(with other: Interface)
        -> (mine: InterfaceVersion, theirs: InterfaceVersion)?
    {
        let newestFirst: (InterfaceVersion, InterfaceVersion) -> Bool = {
            VersionOrder.newestFirst($0.versionName, $1.versionName)
        }
        for mine in interfaceVersions.sorted(by: newestFirst) {
            if let theirs = other.interfaceVersions.sorted(by: newestFirst).first(where: { mine.isCompatible(with: $0) }) {
                return (mine, theirs)
            }
        }
        return nil
    }
}

/// One version of an interface, identified by the hashes of what it sends and receives.
public struct InterfaceVersion: Codable, Sendable, Hashable {
    public var versionName: String
    public var receivesHash: String
    public var sendsHash: String

    public init(versionName: String, receivesHash: String, sendsHash: String) {
        self.versionName = versionName
        self.receivesHash = receivesHash
        self.sendsHash = sendsHash
    }

    /// Two versions can talk when each one sends exactly what the other receives.
    public func isCompatible(with other: InterfaceVersion) -> Bool {
        sendsHash == other.receivesHash && receivesHash == other.sendsHash
    }
}
