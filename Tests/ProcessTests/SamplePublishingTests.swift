import DefpiTesting
import Engine
import Foundation
import Testing

/// The sample services published in two versions each by `defpi service publish`, as the
/// registry's catalog then shows them.
@Suite("Sample services published", .enabled(if: TestBed.hasRegistry), .timeLimit(.minutes(3)))
struct SamplePublishingTests {
    /// The sample's description without its Status interface: what its version 1.0.0 offered.
    static func firstVersionDescription(of sample: BuiltSample) throws -> String {
        let full = try String(contentsOfFile: sample.descriptionPath, encoding: .utf8)
        let directory = (sample.descriptionPath as NSString).deletingLastPathComponent
        let withoutStatus = full.components(separatedBy: "  - name: Status")[0]
            .replacingOccurrences(of: "file: ../", with: "file: \(directory)/../")
        let path = TemporaryDirectory.make().path + "/defpi-service.yaml"
        try withoutStatus.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("meter, aggregator and echo in versions 1.0.0 (without Status) and 1.1.0; compatible as designed")
    func publishTwoVersions() async throws {
        let registryURL = try #require(TestBed.registryURL)
        let prefix = "v\(ObjectID.generate().suffix(10))"
        let environment = ["DEFPI_REGISTRY": registryURL, "DEFPI_REGISTRY_PREFIX": prefix]
        for sample in [BuiltSample.meter, .aggregator, .echo] {
            for (version, description) in [("1.0.0", try Self.firstVersionDescription(of: sample)),
                                           ("1.1.0", sample.descriptionPath)] {
                let result = try await DefpiCommand.run(
                    ["service", "publish", sample.executable, "--id", sample.rawValue.lowercased(), "--version", version,
                     "--description", description], environment: environment)
                #expect(result.status == 0, "\(result.stderr)")
            }
        }
        let catalog = try await ServiceManager(registry: try RegistryClient(url: registryURL), prefix: prefix).catalog()
        #expect(catalog.entries.map(\.id) == ["aggregator", "echo", "meter"])
        for entry in catalog.entries {
            #expect(entry.versions.map(\.version) == ["1.1.0", "1.0.0"])
            #expect(entry.versions[0].interfaces.map(\.name).last == "Status")
            #expect(!entry.versions[1].interfaces.map(\.name).contains("Status"))
            #expect(entry.versions.allSatisfy { $0.problem == nil })
        }
        let meter = try #require(catalog.entry("meter")?.current)
        let aggregator = try #require(catalog.entry("aggregator")?.current)
        let echo = try #require(catalog.entry("echo")?.current)
        func interface(_ service: Service, _ name: String) throws -> Interface {
            try #require(service.interfaces.first { $0.name == name })
        }
        #expect(try interface(meter, "Readings").isCompatible(with: try interface(aggregator, "Readings in")))
        #expect(try interface(aggregator, "Readings in").allowMultiple)
        #expect(try interface(echo, "Echo").isCompatible(with: try interface(echo, "Echo")))
        #expect(try !interface(meter, "Readings").isCompatible(with: try interface(echo, "Echo")))
    }
}
