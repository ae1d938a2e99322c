import Foundation

/// Every service in the registry at one moment, each with all its versions.
public struct ServiceCatalog: Sendable, Codable {
    /// Services by id, ascending.
    public var entries: [Entry]
    public var fetchedAt: Date

    public init(entries: [Entry], fetchedAt: Date) {
        self.entries = entries
        self.fetchedAt = fetchedAt
    }

    /// One service (one repository under the prefix) and its versions, newest first.
    public struct Entry: Sendable, Codable {
        public var id: String
        public var versions: [Service]

        public init(id: String, versions: [Service]) {
            self.id = id
            self.versions = versions
        }

        /// The version a deployment takes by default: the newest usable one.
        public var current: Service? { versions.first { $0.problem == nil } ?? versions.first }
    }

    public func entry(_ id: String) -> Entry? { entries.first { $0.id == id } }
}

/// Reads services from the registry: every repository under the prefix, every tag, the
/// manifests (per architecture) and the dEF-Pi labels of the image config.
///
/// The catalog is cached for `timeToLive` and rebuilt as a whole (so services deleted from the
/// registry disappear); a cold cache waits for a complete catalog and fails rather than return
/// part of one; a refresh never joins a read that began before it. Image facts are cached by
/// manifest digest, since content never changes.
public actor ServiceManager {
    public let registry: RegistryClient
    public let prefix: String
    public let timeToLive: Duration
    private var cached: ServiceCatalog?
    private var inFlight: Task<ServiceCatalog, Error>?
    private var versionsByDigest: [String: ImageFacts] = [:]
    private static let parallelReads = 8

    public init(registry: RegistryClient, prefix: String = RegistrySettings.defaultPrefix,
                timeToLive: Duration = .seconds(120)) {
        self.registry = registry
        self.prefix = prefix
        self.timeToLive = timeToLive
    }

    /// The catalog: the cached one while it is fresh, else a new one. `refresh` forces a re-read.
    public func catalog(refresh: Bool = false) async throws -> ServiceCatalog {
        if !refresh, let cached, Date().timeIntervalSince(cached.fetchedAt) < timeToLive.seconds { return cached }
        if let inFlight {
            // A read that began before this refresh may miss what the caller wants to see.
            guard refresh else { return try await inFlight.value }
            _ = try? await inFlight.value
        }
        return try await read()
    }

    /// Reads the registry once for every caller that waits meanwhile, and caches the result.
    private func read() async throws -> ServiceCatalog {
        if let inFlight { return try await inFlight.value }
        let task = Task { try await self.readCatalog() }
        inFlight = task
        defer { inFlight = nil }
        let catalog = try await task.value
        cached = catalog
        return catalog
    }

    /// All versions of one service, newest first.
    public func versions(of serviceId: String) async throws -> [Service] {
        guard let entry = try await catalog().entry(serviceId) else { throw ServiceError.unknownService(serviceId) }
        return entry.versions
    }

    /// One version of a service; `version` nil means the current one.
    public func service(_ serviceId: String, version: String? = nil) async throws -> Service {
        let versions = try await versions(of: serviceId)
        guard let version else { return versions.first { $0.problem == nil } ?? versions[0] }
        guard let found = versions.first(where: { $0.version == version }) else {
            throw ServiceError.unknownVersion(serviceId: serviceId, version: version, known: versions.map(\.version))
        }
        return found
    }

    // MARK: Reading the registry

    private func readCatalog() async throws -> ServiceCatalog {
        let started = Date()
        let repositories = try await registry.catalog().filter { $0.hasPrefix(prefix + "/") }
        var work: [(id: String, tag: String)] = []
        for repository in repositories {
            let id = String(repository.dropFirst(prefix.count + 1))
            for tag in try await registry.tags(repository: repository) { work.append((id, tag)) }
        }
        let results = try await readTags(work)
        var byService: [String: [String: Service]] = [:]
        // Plain tags first: a version takes its name, labels and time from them, and a broken
        // `-arm` companion only loses its architecture.
        for (id, tag, facts) in results.sorted(by: { !$0.1.hasSuffix("-arm") && $1.1.hasSuffix("-arm") }) {
            let version = Self.versionName(ofTag: tag)
            if var service = byService[id]?[version] {
                if facts.problem == nil { for architecture in facts.architectures { service.tags[architecture] = tag } }
                byService[id]![version] = service
                continue
            }
            var service = Service(
                id: id, name: facts.name ?? id, version: version, registry: registry.host, repository: prefix,
                created: facts.created, interfaces: facts.interfaces, problem: facts.problem)
            for architecture in facts.architectures { service.tags[architecture] = tag }
            byService[id, default: [:]][version] = service
        }
        let entries = byService.keys.sorted().map { id in
            ServiceCatalog.Entry(
                id: id,
                versions: byService[id]!.values.sorted { VersionOrder.newestFirst($0.version, $1.version) })
        }
        return ServiceCatalog(entries: entries, fetchedAt: started)
    }

    /// Reads every tag, `parallelReads` at a time. Registry outages (no answer, refused access,
    /// server errors) fail the whole read; a broken image becomes facts with a problem.
    private func readTags(_ work: [(id: String, tag: String)]) async throws -> [(String, String, ImageFacts)] {
        try await withThrowingTaskGroup(of: (String, String, ImageFacts).self) { group in
            var results: [(String, String, ImageFacts)] = []
            var next = work.makeIterator()
            func addNext() -> Bool {
                guard let item = next.next() else { return false }
                group.addTask { (item.id, item.tag, try await self.facts(serviceId: item.id, tag: item.tag)) }
                return true
            }
            for _ in 0..<Self.parallelReads where !addNext() { break }
            while let result = try await group.next() {
                results.append(result)
                _ = addNext()
            }
            return results
        }
    }

    private func facts(serviceId: String, tag: String) async throws -> ImageFacts {
        let repository = "\(prefix)/\(serviceId)"
        do {
            let manifest = try await registry.manifest(repository: repository, reference: tag)
            if let known = versionsByDigest[manifest.digest] { return known }
            let facts = try await read(manifest, repository: repository)
            versionsByDigest[manifest.digest] = facts
            return facts
        } catch let error as RegistryError {
            switch error {
            case .unreachable, .unauthorized, .credentialsRejected: throw error
            case .api(_, let status, _) where status >= 500 || status == 429: throw error
            default: return ImageFacts(problem: error.userMessage)
            }
        }
    }

    private func read(_ manifest: RegistryManifest, repository: String) async throws -> ImageFacts {
        switch manifest {
        case .image(let image, _):
            let config = try await registry.config(repository: repository, manifest: image)
            return ImageFacts(config: config, architectures: [Architecture(platformName: config.architecture)],
                              serviceId: serviceId(of: repository))
        case .index(let index, _):
            let platforms = index.manifests.filter { $0.platform != nil && $0.platform?.os != "unknown" }
            guard let first = platforms.first else {
                return ImageFacts(problem: "the index lists no platform images")
            }
            guard case .image(let image, _) = try await registry.manifest(repository: repository, reference: first.digest)
            else { return ImageFacts(problem: "the index nests another index") }
            let config = try await registry.config(repository: repository, manifest: image)
            return ImageFacts(config: config, architectures: platforms.map {
                Architecture(platformName: $0.platform?.architecture ?? "")
            }, serviceId: serviceId(of: repository))
        }
    }

    /// The service id of an image repository: its name under the prefix.
    private func serviceId(of repository: String) -> String {
        String(repository.dropFirst(prefix.count + 1))
    }

    /// The version a tag belongs to: the original's `<version>-arm` tags join `<version>`.
    static func versionName(ofTag tag: String) -> String {
        tag.hasSuffix("-arm") ? String(tag.dropLast(4)) : tag
    }
}

/// What one image tells about a service version.
struct ImageFacts: Sendable {
    var name: String?
    var created: Date?
    var interfaces: [Interface] = []
    var architectures: [Architecture] = []
    var problem: String?

    init(problem: String) { self.problem = problem }

    /// Reads the labels of an image of service `serviceId`. Interfaces that do not name their
    /// service (the original accepted such images) belong to this one.
    init(config: ImageConfig, architectures: [Architecture], serviceId: String) {
        self.architectures = architectures
        created = config.created.flatMap { Self.parseDate($0) }
        let labels = config.config.labels ?? [:]
        name = labels[ServiceLabels.serviceName]
        guard name != nil else {
            problem = "the image has no \(ServiceLabels.serviceName) label; it is not a dEF-Pi service image"
            return
        }
        guard let json = labels[ServiceLabels.interfaces] else {
            problem = "the image has no \(ServiceLabels.interfaces) label"
            return
        }
        do {
            let entries = try JSONDecoder().decode([JSONValue].self, from: Data(json.utf8)).map { entry -> JSONValue in
                var fields = entry.fields
                if fields["serviceId"] == nil { fields["serviceId"] = .string(serviceId) }
                return .object(fields)
            }
            interfaces = try JSONValue.array(entries).decode(as: [Interface].self)
        } catch {
            problem = "the \(ServiceLabels.interfaces) label is not a JSON array of interfaces (\(Self.reason(error)))"
        }
    }

    private static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        // Go writes up to nine fractional digits, more than the formatter reads: drop them.
        let trimmed = text.replacingOccurrences(of: #"\.\d+"#, with: "", options: .regularExpression)
        return formatter.date(from: trimmed)
    }

    private static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing \(key.stringValue)"
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        case DecodingError.typeMismatch(_, let context): return context.debugDescription
        default: return "\(error)"
        }
    }
}

/// Why a service lookup failed.
public enum ServiceError: UserFacingError, Equatable {
    case unknownService(String)
    case unknownVersion(serviceId: String, version: String, known: [String])

    public var failureKind: FailureKind {
        switch self {
        case .unknownService, .unknownVersion: return .notFound
        }
    }

    public var userMessage: String {
        switch self {
        case .unknownService(let id):
            return "there is no service \(id) in the registry; `defpi service ls` lists them"
        case .unknownVersion(let id, let version, let known):
            return "service \(id) has no version \(version); it has \(known.joined(separator: ", "))"
        }
    }
}
