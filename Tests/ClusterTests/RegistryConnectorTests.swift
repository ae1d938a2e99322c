import DefpiTesting
import Engine
import Foundation
import Testing

/// The registry connector against the test bed's registry (and private ones for auth).
@Suite("Registry connector", .enabled(if: TestBed.hasRegistry), .timeLimit(.minutes(1)))
struct RegistryConnectorTests {
    let registry: RegistryClient
    /// A repository prefix of this test run, so tests never see each other's images.
    let prefix = "t\(ObjectID.generate().suffix(10))"

    init() throws {
        registry = try RegistryClient(url: try #require(TestBed.registryURL, "the test bed's registry is not up"))
    }

    @Test("ping, catalog across Link pages, tags in version order, manifest and config labels")
    func reading() async throws {
        try await registry.ping()
        let labels = ImagePushing.serviceLabels(name: "Reader", serviceId: "reader")
        for tag in ["1.10.0", "1.2.0", "latest", "1.9.1"] {
            try await ImagePushing.pushImage(registry, repository: "\(prefix)/reader", tag: tag, labels: labels)
        }
        for name in ["a", "b", "c"] {
            try await ImagePushing.pushImage(registry, repository: "\(prefix)/\(name)", tag: "1", labels: labels)
        }
        let paged = try await registry.catalog(pageSize: 2)
        #expect(paged.filter { $0.hasPrefix(prefix + "/") } == ["a", "b", "c", "reader"].map { "\(prefix)/\($0)" })
        // Other tests push to the same registry meanwhile: compare this test's repositories only.
        #expect(paged.filter { $0.hasPrefix(prefix + "/") }
            == (try await registry.catalog()).filter { $0.hasPrefix(prefix + "/") })
        #expect(try await registry.tags(repository: "\(prefix)/reader") == ["1.2.0", "1.9.1", "1.10.0", "latest"])
        #expect(try await registry.tags(repository: "\(prefix)/none").isEmpty)

        guard case .image(let manifest, let digest) = try await registry.manifest(
            repository: "\(prefix)/reader", reference: "1.10.0")
        else { Issue.record("expected an image manifest"); return }
        #expect(digest.hasPrefix("sha256:") && manifest.layers.count == 1)
        let config = try await registry.config(repository: "\(prefix)/reader", manifest: manifest)
        #expect(config.config.labels?[ServiceLabels.serviceName] == "Reader")
        #expect(config.architecture == "amd64")
    }

    @Test("an index resolves per architecture; a missing architecture names the ones there are")
    func index() async throws {
        let repository = "\(prefix)/multi"
        let labels = ImagePushing.serviceLabels(name: "Multi", serviceId: "multi")
        let amd = try await ImagePushing.pushImage(registry, repository: repository, tag: nil, labels: labels)
        let arm = try await ImagePushing.pushImage(registry, repository: repository, tag: nil, labels: labels,
                                                   architecture: "arm64")
        try await ImagePushing.pushIndex(registry, repository: repository, tag: "2.0", images: [amd, arm])
        guard case .index(let index, _) = try await registry.manifest(repository: repository, reference: "2.0") else {
            Issue.record("expected an index"); return
        }
        #expect(index.manifests.count == 2)
        #expect(try await registry.imageManifest(repository: repository, reference: "2.0", architecture: .arm64).digest == arm.digest)
        #expect(try await registry.imageManifest(repository: repository, reference: "2.0", architecture: .x86_64).digest == amd.digest)
        await #expect(throws: RegistryError.noImageForArchitecture(
            image: "\(repository):2.0", architecture: "ARM", available: ["amd64", "arm64"])) {
            try await registry.imageManifest(repository: repository, reference: "2.0", architecture: .arm)
        }
    }

    @Test("a 10 MB label is refused as too large, not read into memory")
    func hugeLabel() async throws {
        let repository = "\(prefix)/huge"
        try await ImagePushing.pushImage(registry, repository: repository, tag: "1",
                                         labels: ["org.flexiblepower.serviceName": String(repeating: "x", count: 10 << 20)])
        guard case .image(let manifest, _) = try await registry.manifest(repository: repository, reference: "1") else {
            Issue.record("expected an image"); return
        }
        await #expect {
            try await registry.config(repository: repository, manifest: manifest)
        } throws: { error in
            guard case RegistryError.blobTooLarge = error else { return false }
            return (error as! RegistryError).userMessage.contains("larger than the 4 MB defpi reads")
        }
    }

    @Test("a deleted manifest takes its tags with it; an unknown tag is notFound")
    func delete() async throws {
        let repository = "\(prefix)/gone"
        let image = try await ImagePushing.pushImage(registry, repository: repository, tag: "1", labels: [:])
        try await registry.deleteManifest(repository: repository, digest: image.digest)
        #expect(try await registry.tags(repository: repository).isEmpty)
        await #expect {
            try await registry.manifest(repository: repository, reference: "1")
        } throws: { error in
            guard case RegistryError.notFound(let what, let message) = error else { return false }
            return what == "\(repository):1" && message.contains("MANIFEST_UNKNOWN")
        }
    }

    @Test("blobs upload once; a re-upload of the same bytes is skipped")
    func blobs() async throws {
        let repository = "\(prefix)/blobs"
        let data = Data("layer bytes \(prefix)".utf8)
        let digest = try await registry.pushBlob(repository: repository, data: data)
        #expect(try await registry.hasBlob(repository: repository, digest: digest))
        #expect(try await registry.pushBlob(repository: repository, data: data) == digest)
        #expect(try await registry.blob(repository: repository, digest: digest, limit: 1024) == data)
        #expect(try await !registry.hasBlob(repository: repository, digest: RegistryClient.digest(of: Data("other".utf8))))
    }

    @Test("basic auth: refused without credentials, with wrong ones; works with the right ones")
    func basicAuth() async throws {
        let private_ = try await PrivateRegistry(authentication: .basic)
        defer { private_.stop() }
        try await checkAuthentication(private_)
    }

    @Test("bearer tokens: the client follows the challenge to the token service and pushes and reads")
    func bearerAuth() async throws {
        let private_ = try await PrivateRegistry(authentication: .token)
        defer { private_.stop() }
        try await checkAuthentication(private_)
    }

    private func checkAuthentication(_ private_: PrivateRegistry) async throws {
        let anonymous = try RegistryClient(url: private_.url)
        await #expect {
            try await anonymous.catalog()
        } throws: { error in
            guard case RegistryError.unauthorized = error else { return false }
            return (error as! RegistryError).userMessage.contains("wants credentials")
        }
        let wrong = try RegistryClient(url: private_.url,
                                       credentials: RegistryCredentials(username: private_.username, password: "nope"))
        await #expect {
            try await wrong.ping()
        } throws: { error in
            guard case RegistryError.credentialsRejected = error else { return false }
            return (error as! RegistryError).userMessage.contains("check DEFPI_REGISTRY_USERNAME")
        }
        let client = try RegistryClient(url: private_.url, credentials: RegistryCredentials(
            username: private_.username, password: private_.password))
        try await client.ping()
        try await ImagePushing.pushImage(client, repository: "services/locked", tag: "1.0",
                                         labels: ImagePushing.serviceLabels(name: "Locked", serviceId: "locked"))
        #expect(try await client.catalog() == ["services/locked"])
        #expect(try await client.tags(repository: "services/locked") == ["1.0"])
    }

    @Test("a registry that is down is reported with its URL, quickly")
    func down() async throws {
        let client = try RegistryClient(url: "http://127.0.0.1:\(freePort())")
        let started = ContinuousClock.now
        await #expect {
            try await client.catalog()
        } throws: { error in
            guard case RegistryError.unreachable(_, .cannotConnect) = error else { return false }
            return (error as! RegistryError).userMessage.contains(client.baseURL)
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("a registry that accepts and never answers times out at the request timeout, with its URL")
    func hung() async throws {
        let server = try SilentServer()
        defer { server.stop() }
        let client = try RegistryClient(url: "http://127.0.0.1:\(server.port)", requestTimeout: .seconds(2))
        let started = ContinuousClock.now
        await #expect {
            try await client.catalog()
        } throws: { error in
            guard case RegistryError.unreachable(_, .timedOut) = error else { return false }
            return (error as! RegistryError).userMessage.contains(client.baseURL)
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .seconds(2) && waited < .seconds(6), "\(waited)")
    }

    @Test("a web server that is not a registry is named as such")
    func garbage() async throws {
        let server = try await StaticWebServer(files: [
            "v2/index.html": "<html>hello</html>", "v2/_catalog": "<html>not json</html>",
        ])
        defer { server.stop() }
        let client = try RegistryClient(url: server.url)
        try await client.ping()
        await #expect {
            try await client.catalog()
        } throws: { error in
            guard case RegistryError.malformedResponse = error else { return false }
            return (error as! RegistryError).userMessage.contains("is the URL a Docker registry?")
        }
    }
}
