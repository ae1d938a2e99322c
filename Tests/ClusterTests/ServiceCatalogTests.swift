import DefpiTesting
import Engine
import Foundation
import Testing

/// `defpi service publish` and the ServiceManager, against the test bed's registry.
@Suite("Service catalog", .enabled(if: TestBed.hasRegistry), .timeLimit(.minutes(2)))
struct ServiceCatalogTests {
    let registryURL: String
    /// A repository prefix of this test run.
    let prefix = "s\(ObjectID.generate().suffix(10))"

    init() throws {
        registryURL = try #require(TestBed.registryURL, "the test bed's registry is not up")
    }

    func publish(_ sample: SampleService, id: String, version: String, through registry: String? = nil) async throws
        -> DefpiCommand.Result
    {
        try await DefpiCommand.run(
            ["service", "publish", sample.executable, "--id", id, "--version", version],
            environment: ["DEFPI_REGISTRY": registry ?? registryURL, "DEFPI_REGISTRY_PREFIX": prefix])
    }

    /// A proxy in front of the registry that prints each request it forwards ("METHOD PATH"), and
    /// cuts off every request whose path contains `cutting` ("CUT METHOD PATH").
    func proxy(cutting: String? = nil) async throws -> (process: ChildProcess, url: String) {
        let port = freePort()
        let process = try ChildProcess("/usr/bin/env", ["python3", TestBed.repositoryRoot + "/Tests/Fixtures/registry-proxy.py",
                                                        "\(port)", registryURL] + (cutting.map { [$0] } ?? []))
        #expect(await waitForPort(port), "\(process.errors)")
        return (process, "http://127.0.0.1:\(port)")
    }

    @Test("two services, three versions each, published by the CLI, read back newest first with interfaces")
    func publishAndRead() async throws {
        let meter = try SampleService(name: "meter", displayName: "Meter", interface: "Readings",
                                      sends: ["Reading"], receives: ["Setpoint"])
        let aggregator = try SampleService(name: "aggregator", displayName: "Aggregator", interface: "Readings",
                                           sends: ["Setpoint"], receives: ["Reading"], allowMultiple: true,
                                           binary: "/usr/bin/curl")
        for version in ["1.0.0", "1.10.0", "1.2.0"] {
            let result = try await publish(meter, id: "meter", version: version)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("published \(TestBed.registryURL!.dropFirst(7))/\(prefix)/meter:\(version)"))
        }
        for version in ["0.1", "0.2", "0.10"] {
            #expect(try await publish(aggregator, id: "aggregator", version: version).status == 0)
        }
        // Unchanged inputs give the same image: the same digest, and the registry receives no blob.
        let (watcher, watched) = try await proxy()
        defer { watcher.kill() }
        var digests: [String?] = []
        for _ in 0..<2 {
            let again = try await publish(meter, id: "meter", version: "1.2.0", through: watched)
            digests.append(again.stdout.split(separator: "\n").last.map(String.init))
        }
        #expect(digests[0] != nil && digests[0] == digests[1])
        let received = watcher.output.split(separator: "\n")
        #expect(received.contains { $0.hasPrefix("HEAD ") } && !received.contains { $0.contains("/blobs/uploads") },
                "\(watcher.output)")

        let services = ServiceManager(registry: try RegistryClient(url: registryURL), prefix: prefix)
        let catalog = try await services.catalog()
        #expect(catalog.entries.map(\.id) == ["aggregator", "meter"])
        let meterVersions = try #require(catalog.entry("meter")).versions
        #expect(meterVersions.map(\.version) == ["1.10.0", "1.2.0", "1.0.0"])
        let newest = meterVersions[0]
        #expect(newest.name == "Meter" && newest.problem == nil && newest.repository == prefix)
        #expect(newest.architectures == [.x86_64] || newest.architectures == [.arm64])
        let built = try FileManager.default.attributesOfItem(atPath: meter.executable)[.modificationDate] as? Date
        #expect(newest.created.map { abs($0.timeIntervalSince(built!)) < 1 } == true)
        #expect(newest.interfaces.map(\.id) == ["meter/readings"])
        #expect(try await services.versions(of: "aggregator").map(\.version) == ["0.10", "0.2", "0.1"])

        let aggregatorInterface = try await services.service("aggregator").interfaces[0]
        #expect(aggregatorInterface.allowMultiple)
        #expect(newest.interfaces[0].bestCompatibleVersions(with: aggregatorInterface)?.theirs.versionName == "v1")
        #expect(!newest.interfaces[0].isCompatible(with: newest.interfaces[0]))

        await #expect(throws: ServiceError.unknownVersion(serviceId: "meter", version: "9", known: ["1.10.0", "1.2.0", "1.0.0"])) {
            try await services.service("meter", version: "9")
        }
        await #expect(throws: ServiceError.unknownService("nope")) { try await services.service("nope") }

        let listed = try await DefpiCommand.run(["service", "ls", "-o", "json"],
                                          environment: ["DEFPI_REGISTRY": registryURL, "DEFPI_REGISTRY_PREFIX": prefix])
        let json = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]
        #expect(json?.map { $0["id"] as? String } == ["aggregator", "meter"])
    }

    @Test("the cache serves within its lifetime, refresh re-reads, deleted services disappear")
    func cache() async throws {
        let registry = try RegistryClient(url: registryURL)
        let labels = ImagePushing.serviceLabels(name: "Cached", serviceId: "cached")
        let first = try await ImagePushing.pushImage(registry, repository: "\(prefix)/cached", tag: "1", labels: labels)
        let services = ServiceManager(registry: registry, prefix: prefix, timeToLive: .seconds(300))
        let cold = try await services.catalog()
        #expect(cold.entry("cached")?.versions.map(\.version) == ["1"])

        // A label of its own, so the second image never has the first's digest (deleting one
        // manifest would delete both tags).
        try await ImagePushing.pushImage(registry, repository: "\(prefix)/cached", tag: "2",
                                         labels: labels.merging(["org.defpi.test.push": "2"]) { $1 })
        let warm = try await services.catalog()
        #expect(warm.fetchedAt == cold.fetchedAt)
        #expect(warm.entry("cached")?.versions.map(\.version) == ["1"])
        #expect(try await services.catalog(refresh: true).entry("cached")?.versions.map(\.version) == ["2", "1"])

        try await registry.deleteManifest(repository: "\(prefix)/cached", digest: first.digest)
        let second = try await registry.manifest(repository: "\(prefix)/cached", reference: "2")
        try await registry.deleteManifest(repository: "\(prefix)/cached", digest: second.digest)
        #expect(try await services.catalog(refresh: true).entry("cached") == nil)
    }

    @Test("images with missing or malformed labels, or unreadable configs, are listed with the reason")
    func problems() async throws {
        let registry = try RegistryClient(url: registryURL)
        try await ImagePushing.pushImage(registry, repository: "\(prefix)/plain", tag: "1", labels: [:])
        try await ImagePushing.pushImage(registry, repository: "\(prefix)/badjson", tag: "1", labels: [
            ServiceLabels.serviceName: "Bad", ServiceLabels.interfaces: "[{\"id\": 5}",
        ])
        try await ImagePushing.pushImage(registry, repository: "\(prefix)/nointerfaces", tag: "1",
                                         labels: [ServiceLabels.serviceName: "Half"])
        try await ImagePushing.pushImage(registry, repository: "\(prefix)/huge", tag: "1",
                                         labels: [ServiceLabels.serviceName: String(repeating: "x", count: 10 << 20)])
        let arm = try await ImagePushing.pushImage(
            registry, repository: "\(prefix)/armonly", tag: nil,
            labels: ImagePushing.serviceLabels(name: "Arm", serviceId: "armonly"), architecture: "arm64")
        try await ImagePushing.pushIndex(registry, repository: "\(prefix)/armonly", tag: "1", images: [arm])

        let catalog = try await ServiceManager(registry: registry, prefix: prefix).catalog()
        func problem(_ id: String) -> String? { catalog.entry(id)?.versions.first?.problem }
        #expect(problem("plain")?.contains("no org.flexiblepower.serviceName label") == true)
        #expect(problem("badjson")?.contains("not a JSON array of interfaces") == true)
        #expect(problem("nointerfaces")?.contains("no org.flexiblepower.interfaces label") == true)
        #expect(problem("huge")?.contains("larger than the 4 MB defpi reads") == true)
        #expect(catalog.entry("plain")?.versions.first?.name == "plain")
        let armOnly = try #require(catalog.entry("armonly")?.versions.first)
        #expect(armOnly.problem == nil && armOnly.architectures == [.arm64] && armOnly.image(for: .x86_64) == nil)
    }

    @Test("interfaces that do not name their service, as the original allowed, belong to the image's repository")
    func interfacesWithoutServiceId() async throws {
        let registry = try RegistryClient(url: registryURL)
        let interfaces = """
            [{"id": "legacy/data", "name": "data", "allowMultiple": true, "autoConnect": false,
              "interfaceVersions": [{"versionName": "v1", "receivesHash": "r", "sendsHash": "s"}]}]
            """
        try await ImagePushing.pushImage(registry, repository: "\(prefix)/legacy", tag: "1", labels: [
            ServiceLabels.serviceName: "Legacy", ServiceLabels.interfaces: interfaces,
        ])
        let version = try #require(try await ServiceManager(registry: registry, prefix: prefix).catalog().entry("legacy")?.versions.first)
        #expect(version.problem == nil)
        #expect(version.interfaces.map(\.serviceId) == ["legacy"] && version.interfaces.map(\.allowMultiple) == [true])
    }

    @Test("a registry that is down fails the catalog instead of returning part of it")
    func registryDown() async throws {
        let services = ServiceManager(registry: try RegistryClient(url: "http://127.0.0.1:\(freePort())"))
        await #expect(throws: RegistryError.self) { try await services.catalog() }
        let result = try await DefpiCommand.run(["service", "ls"], environment: ["DEFPI_REGISTRY": "http://127.0.0.1:1"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("defpi: cannot reach the registry at http://127.0.0.1:1"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("a registry failing in the middle of a read, for one repository, fails the catalog instead of returning part of it")
    func registryDiesMidRead() async throws {
        let registry = try RegistryClient(url: registryURL)
        for id in ["first", "second", "third"] {
            try await ImagePushing.pushImage(registry, repository: "\(prefix)/\(id)", tag: "1",
                                             labels: ImagePushing.serviceLabels(name: id, serviceId: id))
        }
        let whole = try await ServiceManager(registry: registry, prefix: prefix).catalog()
        #expect(whole.entries.map(\.id) == ["first", "second", "third"])
        // The catalog and the first two repositories answer; the third's tags never do.
        let (failing, url) = try await proxy(cutting: "/\(prefix)/third/")
        defer { failing.kill() }
        await #expect(throws: RegistryError.self) {
            try await ServiceManager(registry: try RegistryClient(url: url), prefix: prefix).catalog()
        }
        #expect(failing.output.contains("CUT GET /v2/\(prefix)/third/tags/list"), "\(failing.output)")
    }

    @Test("publish refuses bad input before touching the registry")
    func publishErrors() async throws {
        let (watcher, registryURL) = try await proxy()
        defer { watcher.kill() }
        let sample = try SampleService(name: "meter", displayName: "Meter", interface: "Readings",
                                       sends: ["Reading"], receives: [])
        let badVersion = try await publish(sample, id: "meter", version: "1 0", through: registryURL)
        #expect(badVersion.status == 1 && badVersion.stderr.contains("\"1 0\" is not a valid version"))
        let missing = try await DefpiCommand.run(["service", "publish", "/nonexistent/meter", "--id", "m", "--version", "1"],
                                           environment: ["DEFPI_REGISTRY": registryURL])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/meter is not an executable file"))
        let noDescription = try await DefpiCommand.run(
            ["service", "publish", sample.executable, "--id", "m", "--version", "1", "--description", "/nonexistent.yaml"],
            environment: ["DEFPI_REGISTRY": registryURL])
        #expect(noDescription.status == 1 && noDescription.stderr.contains("cannot read /nonexistent.yaml"))
        #expect(watcher.output.isEmpty, "the registry was asked: \(watcher.output)")
    }
}
